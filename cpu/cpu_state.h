// Architectural state of one logical processor (SDM Vol. 1 §3.4, Vol. 3 §2, §3.4).
// Plain data: the VMX unit saves and loads it field by field, tests build it directly.
#pragma once

#include <cstdint>

namespace vmxsim::cpu {

using Cycles = uint64_t;

enum Gpr : uint8_t {
  kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi,
  kR8, kR9, kR10, kR11, kR12, kR13, kR14, kR15,
  kNumGprs = 16,
  // Pseudo registers so that effective-address arithmetic needs no branches:
  kRegNextRip = 16,  // holds the address of the next instruction while one executes
  kRegZero = 17,     // always 0: "no base" / "no index"
  kNumRegSlots = 18,
  // 8-bit high registers (AH, CH, DH, BH) are encoded as 20 + n, n = 0..3.
  kRegHigh8 = 20,
  kNoReg = 0xff,
};

enum SegReg : uint8_t { kEs, kCs, kSs, kDs, kFs, kGs, kNumSegs = 6,
                        kSegNone = 6 /* base 0, 64-bit mode non-FS/GS */ };

// Segment register with its hidden descriptor cache. `ar` uses the VMX access-rights layout
// (SDM Vol. 3 §24.4.1): type[3:0] S[4] DPL[6:5] P[7] AVL[12] L[13] D/B[14] G[15] unusable[16].
struct Segment {
  uint16_t selector = 0;
  uint64_t base = 0;
  uint32_t limit = 0xffff;  // byte granular (G already applied)
  uint32_t ar = 0;
};

namespace ar {
constexpr uint32_t kTypeMask = 0xf, kS = 1u << 4, kDplShift = 5, kP = 1u << 7, kAvl = 1u << 12,
                   kL = 1u << 13, kDb = 1u << 14, kG = 1u << 15, kUnusable = 1u << 16;
constexpr uint32_t kCodeBit = 0x8, kCodeConforming = 0x4, kCodeReadable = 0x2,
                   kDataExpandDown = 0x4, kDataWritable = 0x2, kAccessed = 0x1;
}  // namespace ar

struct DescriptorTable {
  uint64_t base = 0;
  uint32_t limit = 0xffff;
};

namespace rflags {
constexpr uint64_t kCf = 1u << 0, kFixed1 = 1u << 1, kPf = 1u << 2, kAf = 1u << 4, kZf = 1u << 6,
                   kSf = 1u << 7, kTf = 1u << 8, kIf = 1u << 9, kDf = 1u << 10, kOf = 1u << 11,
                   kIoplMask = 3u << 12, kIoplShift = 12, kNt = 1u << 14, kRf = 1u << 16,
                   kVm = 1u << 17, kAc = 1u << 18, kVif = 1u << 19, kVip = 1u << 20,
                   kId = 1u << 21;
constexpr uint64_t kArith = kCf | kPf | kAf | kZf | kSf | kOf;
}  // namespace rflags

namespace cr0 {
constexpr uint64_t kPe = 1u << 0, kMp = 1u << 1, kEm = 1u << 2, kTs = 1u << 3, kEt = 1u << 4,
                   kNe = 1u << 5, kWp = 1u << 16, kAm = 1u << 18, kNw = 1u << 29,
                   kCd = 1u << 30, kPg = 1u << 31;
}
namespace cr4 {
constexpr uint64_t kVme = 1u << 0, kPvi = 1u << 1, kTsd = 1u << 2, kDe = 1u << 3, kPse = 1u << 4,
                   kPae = 1u << 5, kMce = 1u << 6, kPge = 1u << 7, kPce = 1u << 8,
                   kOsfxsr = 1u << 9, kOsxmmexcpt = 1u << 10, kUmip = 1u << 11,
                   kLa57 = 1u << 12, kVmxe = 1u << 13, kSmxe = 1u << 14,
                   kFsgsbase = 1u << 16, kPcide = 1u << 17, kOsxsave = 1u << 18,
                   kSmep = 1u << 20, kSmap = 1u << 21, kPke = 1u << 22;
}
namespace misc_enable {  // IA32_MISC_ENABLE (SDM Vol. 4 Table 2-2)
constexpr uint64_t kFastStrings = 1u << 0, kMonitorFsm = 1u << 18;
}
namespace efer {
constexpr uint64_t kSce = 1u << 0, kLme = 1u << 8, kLma = 1u << 10, kNxe = 1u << 11;
constexpr uint64_t kSupported = kSce | kLme | kLma | kNxe;  // the rest is reserved (#GP)
}

// A canonical 48-bit linear address: bits 63:47 all equal (SDM Vol. 1 §3.3.7.1).
inline bool is_canonical(uint64_t v) {
  return static_cast<uint64_t>(static_cast<int64_t>(v << 16) >> 16) == v;
}

// IA32_PAT / VMCS PAT fields: every entry a valid memory type (SDM Vol. 3 §11.12.2).
inline bool pat_valid(uint64_t pat) {
  for (int i = 0; i < 8; ++i) {
    const unsigned t = (pat >> (8 * i)) & 0xff;
    if (t == 2 || t == 3 || t > 7) return false;
  }
  return true;
}
// Debug status and control (SDM Vol. 3 §17.2.3, §17.2.4).
namespace dr6 {
constexpr uint64_t kB0 = 1u << 0, kBMask = 0xf, kBd = 1u << 13, kBs = 1u << 14, kBt = 1u << 15,
                   kRtm = 1u << 16, kFixed1 = 0xffff0ff0;  // reserved bits read as 1
}
namespace dr7 {
constexpr uint64_t kGd = 1u << 13, kFixed1 = 1u << 10;
}

// Everything a VM exit/entry or a state dump needs, and nothing derived.
struct CpuState {
  // gpr[16] is the next-instruction pointer during execution, gpr[17] is always zero.
  uint64_t gpr[kNumRegSlots] = {};
  uint64_t rip = 0;
  Segment seg[kNumSegs];
  Segment ldtr, tr;
  DescriptorTable gdtr, idtr;
  uint64_t cr0 = cr0::kEt | cr0::kCd | cr0::kNw, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
  uint64_t xcr0 = 1;
  uint64_t efer = 0;
  uint64_t dr[8] = {0, 0, 0, 0, 0xffff0ff0, 0x400, 0xffff0ff0, 0x400};
  // Model-specific registers that the core itself implements (the rest go to the platform).
  uint64_t star = 0, lstar = 0, cstar = 0, fmask = 0, kernel_gs_base = 0, tsc_aux = 0;
  uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
  uint64_t pat = 0x0007040600070406ull;
  uint64_t debugctl = 0;  // IA32_DEBUGCTL (stored; LBR/BTS are not modelled)
  uint64_t feature_control = 0;
  uint64_t apic_base = 0xfee00000ull | (1u << 11);  // enable bit; BSP bit set by the platform
  uint64_t tsc_offset = 0;  // TSC = cycles * tsc ratio + tsc_offset (IA32_TSC writes adjust it)
  uint64_t misc_enable = 1;  // fast strings
  uint64_t mtrr_def_type = 0, mtrr_fixed[11] = {}, mtrr_var[16] = {};
  // Machine-check banks: IA32_MCi_CTL, ADDR and MISC hold what software wrote; STATUS stays 0
  // (no machine check ever occurs).
  static constexpr unsigned kMcBanks = 4;
  uint64_t mc_ctl[kMcBanks] = {}, mc_addr[kMcBanks] = {}, mc_misc[kMcBanks] = {};
  // SSE/AVX register file kept for FXSAVE/XSAVE and SSE data movement (XMM0-15, 128 bits).
  alignas(16) uint8_t xmm[16][16] = {};
  uint32_t mxcsr = 0x1f80;
  uint16_t fpu_cw = 0x37f, fpu_sw = 0, fpu_tw = 0xffff;  // x87 control/status/tag (abridged)
  alignas(16) uint8_t x87[8][16] = {};                     // ST/MM registers as FXSAVE stores them
};

}  // namespace vmxsim::cpu
