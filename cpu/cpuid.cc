// CPUID: the processor's identity and features. Only implemented features are advertised
// (ARCHITECTURE §5: capabilities are honest).
#include <cstring>

#include "cpu/core.h"

namespace vmxsim::cpu {

namespace {
constexpr uint32_t bit(unsigned n) { return 1u << n; }

uint64_t gcd(uint64_t a, uint64_t b) {
  while (b) {
    const uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

void put_string(uint32_t out[4], const char* s, const int order[4]) {
  for (int i = 0; i < 4; ++i) std::memcpy(&out[order[i]], s + 4 * i, 4);
}
}  // namespace

void Core::cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]) const {
  enum { A, B, C, D };
  const CpuFeatures& f = m_params.features;
  out[A] = out[B] = out[C] = out[D] = 0;
  const unsigned ncpu = m_params.cpu_count;
  unsigned core_bits = 0;
  while ((1u << core_bits) < ncpu) ++core_bits;
  switch (leaf) {
    case 0: {
      out[A] = 0x16;
      char v[13] = {};
      std::strncpy(v, m_params.vendor.c_str(), 12);
      std::memcpy(&out[B], v, 4);
      std::memcpy(&out[D], v + 4, 4);
      std::memcpy(&out[C], v + 8, 4);
      break;
    }
    case 1:
      out[A] = m_params.cpuid_family_model_stepping;
      out[B] = (8u << 8) | ((ncpu > 1 ? (1u << core_bits) : 1u) << 16) | (m_params.apic_id << 24);
      out[C] = (monitor_supported() ? bit(3) : 0) /*MONITOR*/ | (f.vmx ? bit(5) : 0) /*VMX*/ | bit(13) /*CX16*/ | (f.pcid ? bit(17) : 0) | (f.x2apic ? bit(21) : 0) |
               bit(22) /*MOVBE*/ | bit(23) /*POPCNT*/ | (f.tsc_deadline ? bit(24) : 0) |
               bit(26) /*XSAVE*/ | bit(30) /*RDRAND*/ | ((s.cr4 & cr4::kOsxsave) ? bit(27) : 0);
      out[D] = bit(0) /*FPU*/ | bit(2) /*DE*/ | bit(3) /*PSE*/ | bit(4) /*TSC*/ | bit(5) /*MSR*/ |
               bit(6) /*PAE*/ | bit(7) /*MCE: CR4.MCE; no machine check ever occurs*/ | bit(8) /*CX8*/ | bit(9) /*APIC*/ | bit(11) /*SEP*/ |
               bit(12) /*MTRR*/ | bit(13) /*PGE*/ | bit(14) /*MCA: banks that never report*/ | bit(15) /*CMOV*/ | bit(16) /*PAT*/ |
               bit(17) /*PSE-36*/ | bit(19) /*CLFSH*/ | bit(23) /*MMX*/ | bit(24) /*FXSR*/ |
               bit(25) /*SSE*/ | bit(26) /*SSE2*/ | (ncpu > 1 ? bit(28) : 0) /*HTT*/;
      if (!(s.apic_base & (1ull << 11))) out[D] &= ~bit(9);
      break;
    case 5:
      // MONITOR/MWAIT: 64-byte monitor lines; extensions enumerated (ECX[0]) with interrupts as
      // break events even when masked (ECX[1]); no C-state sub-states are enumerated.
      if (monitor_supported()) {
        out[A] = 64;
        out[B] = 64;
        out[C] = bit(0) | bit(1);
      }
      break;
    case 7:
      if (sub == 0) {
        out[B] = bit(3) /*BMI1*/ | (f.smep ? bit(7) : 0) | bit(8) /*BMI2*/ | bit(9) /*ERMS*/ |
                 (f.invpcid ? bit(10) : 0) | bit(18) /*RDSEED*/ | (f.smap ? bit(20) : 0) |
                 bit(23) /*CLFLUSHOPT*/ | bit(24) /*CLWB*/;
        out[C] = (f.umip ? bit(2) : 0) | (f.rdpid ? bit(22) : 0);
      }
      break;
    case 0xb: {
      // x2APIC topology: one thread per core, `ncpu` cores in one package.
      out[D] = m_params.apic_id;
      if (sub == 0) {
        out[A] = 0;
        out[B] = 1;
        out[C] = (1u << 8) | sub;
      } else if (sub == 1) {
        out[A] = core_bits;
        out[B] = ncpu;
        out[C] = (2u << 8) | sub;
      } else {
        out[C] = sub;
      }
      break;
    }
    case 0xd:
      if (sub == 0) {
        out[A] = 3;  // x87 and SSE state components
        out[B] = 512 + 64;
        out[C] = 512 + 64;
      } else if (sub == 1) {
        out[A] = bit(0);  // XSAVEOPT
      }
      break;
    case 0x15: {
      // TSC/crystal ratio and the crystal frequency (SDM Vol. 2A CPUID, leaf 15H): lets the OS
      // know the TSC and APIC-timer rates without calibrating them against the PIT.
      const uint64_t crystal = m_params.crystal_hz, tsc = m_params.tsc_hz;
      if (crystal && crystal <= 0xffffffffu) {
        const uint64_t g = gcd(tsc, crystal);
        if (crystal / g <= 0xffffffffu && tsc / g <= 0xffffffffu) {
          out[A] = static_cast<uint32_t>(crystal / g);
          out[B] = static_cast<uint32_t>(tsc / g);
          out[C] = static_cast<uint32_t>(crystal);
        }
      }
      break;
    }
    case 0x16:
      // Processor base and maximum frequency and bus (reference) frequency, in MHz.
      out[A] = out[B] = static_cast<uint32_t>(m_params.core_hz / 1'000'000);
      out[C] = 100;
      break;
    case 0x80000000: out[A] = 0x80000008; break;
    case 0x80000001:
      out[C] = bit(0) /*LAHF/SAHF*/ | bit(5) /*LZCNT*/ | bit(8) /*PREFETCHW*/;
      out[D] = bit(11) /*SYSCALL*/ | bit(20) /*NX*/ | (f.page1gb ? bit(26) : 0) |
               (f.rdtscp ? bit(27) : 0) | bit(29) /*LM*/;
      break;
    case 0x80000002: case 0x80000003: case 0x80000004: {
      char b[49] = {};
      std::strncpy(b, m_params.brand.c_str(), 48);
      static const int kOrder[4] = {A, B, C, D};
      put_string(out, b + 16 * (leaf - 0x80000002), kOrder);
      break;
    }
    case 0x80000007: out[D] = bit(8); break;  // invariant TSC
    case 0x80000008: out[A] = m_params.phys_addr_bits | (m_params.lin_addr_bits << 8); break;
    default:
      // Leaves above the maximum return the highest basic leaf's values on Intel; we return
      // zeros for unknown leaves within range, which software treats as "not supported".
      break;
  }
}

}  // namespace vmxsim::cpu
