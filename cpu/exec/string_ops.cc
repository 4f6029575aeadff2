// Handler group: string_ops — MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS with REP/REPE/REPNE
// (SDM Vol. 1 §7.3.9, Vol. 2 "REP/REPE/REPZ/REPNE/REPNZ"; I/O permission: Vol. 1 §19.5, checked
// by Core::check_io_permission).
//
// Operands are implicit: the source is seg:rSI (DS unless overridden, op.seg), the destination
// ES:rDI (ES cannot be overridden; its base is ignored in 64-bit mode). The REP forms of MOVS and
// STOS copy or fill whole runs within a page through host pointers when the pages are RAM. The address size selects
// SI/ESI/RSI, DI/EDI/RDI and the REP count register CX/ECX/RCX; RFLAGS.DF the direction.
//
// REP forms run at most kMaxIterations iterations per execution. If the count is not exhausted,
// RIP stays at the instruction and the block ends, so that the core takes pending interrupts
// and re-enters (the architectural behaviour of interruptible string instructions). A fault
// in iteration k leaves rSI/rDI/rCX as they were before iteration k (SDM Vol. 2 "REP").
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"
#include "cpu/decode/isa_table.h"

namespace vmxsim::cpu {

// Defined in sse.cc: MOVSD is both the string move (A5 with 32-bit operand size) and the SSE2
// scalar double move; one mnemonic, one table entry, registered here.
ExecFn select_movsd_xmm(const DecodedOp& op);

namespace {

// Iterations per execution of a REP instruction before RIP is left at the instruction.
constexpr uint64_t kMaxIterations = 1024;
// Fast-string transfers (MOVS/STOS) charge the class latency once per this many bytes; the
// other string instructions once per iteration.
constexpr uint64_t kFastStringBytesPerUnit = 16;

// --- host-pointer fast path ------------------------------------------------------------------
// Core::host_ptr gives a host pointer to bytes within one RAM page (nullptr for MMIO and for
// writes to pages holding code, which keep the element path and its SMC detection).
uint8_t* host_ptr(Core& c, uint64_t lin, unsigned n, bool write) { return c.host_ptr(lin, n, write); }
constexpr bool kHaveFastPath = true;

// --- helpers -----------------------------------------------------------------------------------
template <unsigned A>
constexpr uint64_t addr_mask() {
  return A == 2 ? 0xffffull : A == 4 ? 0xffffffffull : ~0ull;
}

// Destination segment: always ES (the core keeps its base at 0 in 64-bit mode).
inline unsigned dst_seg(const DecodedOp&) { return kEs; }

inline int64_t step(const Core& c, unsigned size) {
  return (c.rflags_other() & rflags::kDf) ? -static_cast<int64_t>(size) : static_cast<int64_t>(size);
}

// Iterations allowed in this execution: one while single-stepping or while data breakpoints are
// armed (the #DB trap follows the iteration that hit, SDM Vol. 3 §17.3.1.2), else kMaxIterations.
inline uint64_t iteration_budget(const Core& c) {
  return ((c.rflags_other() & rflags::kTf) || c.data_breakpoints_armed()) ? 1 : kMaxIterations;
}

// The count is not exhausted: execute the instruction again after the core had a chance to
// take events.
inline void repeat_later(Core& c) {
  c.set_next_rip(c.s.rip);
  c.end_block();
}

inline void charge(Core& c, const DecodedOp& op, uint64_t units) {
  if (units > 1) c.add_cycles((units - 1) * op.cycles);
}

// Whether [ea, ea+len) lies inside segment `seg` for this access without any fault, so that a
// block transfer cannot skip a fault an element-by-element execution would raise. Conservative:
// false sends the caller down the element path, which raises the fault at the right iteration.
bool segment_range_ok(const Core& c, const DecodedOp& op, unsigned seg, uint64_t ea,
                      uint64_t len, bool write) {
  if (!(op.attrs & attr::kCheckLimit) || seg >= kNumSegs) return true;
  const Segment& sg = c.s.seg[seg];
  if (c.protected_mode() && !c.v86_mode()) {
    const uint32_t type = sg.ar & ar::kTypeMask;
    if (sg.ar & ar::kUnusable) return false;
    if (type & ar::kCodeBit) return false;
    if (write && !(type & ar::kDataWritable)) return false;
    if (type & ar::kDataExpandDown) return false;
  }
  return ea + len - 1 <= sg.limit;
}

// --- MOVS ------------------------------------------------------------------------------------
template <unsigned S, unsigned A>
inline void movs_one(Core& c, const DecodedOp& op, int64_t d) {
  const uint64_t si = c.reg<A>(kRsi), di = c.reg<A>(kRdi);
  const uint64_t v = c.read<S>(c.linear_seg(op.seg, si, S, false));
  c.write<S>(c.linear_seg(dst_seg(op), di, S, true), v);
  c.set_reg<A>(kRsi, si + d);
  c.set_reg<A>(kRdi, di + d);
}

// Block transfers: runs of elements that lie within one page for the source and one for the
// destination, in the direction of DF (Down = DF=1: the elements at rSI, rSI-S, ...).
// block_count: how many of at most `n` elements starting at `ea` (linear `lin`) one block may
// cover; 0 sends the caller down the element path for the next element. The block functions
// return the number of elements done, 0 (element path for the next element), or kNotRam when a
// page is not RAM reachable through the fast TLB (MMIO, a write to a code page): the caller then
// stays on the element path for the rest of this execution instead of translating again.
constexpr uint64_t kNotRam = ~0ull;
template <unsigned S, unsigned A, bool Down>
uint64_t block_count(Core& c, const DecodedOp& op, unsigned seg, uint64_t ea, uint64_t lin,
                     bool write, uint64_t n) {
  // No address-size wrap-around inside the block.
  n = std::min(n, Down ? ea / S + 1 : (addr_mask<A>() - ea) / S + 1);
  // Within the page of the first element (which itself must not cross the page).
  const uint64_t off = lin & 0xfff;
  if (off + S > 4096) return 0;
  n = std::min(n, Down ? off / S + 1 : (4096 - off) / S);
  if (n < 2) return 0;
  if (!segment_range_ok(c, op, seg, Down ? ea - (n - 1) * S : ea, n * S, write)) return 0;
  return n;
}

template <unsigned S, unsigned A, bool Down>
uint64_t movs_block(Core& c, const DecodedOp& op, uint64_t max) {
  const uint64_t si = c.reg<A>(kRsi), di = c.reg<A>(kRdi);
  const uint64_t ls = c.linear_seg(op.seg, si, S, false);
  const uint64_t ld = c.linear_seg(dst_seg(op), di, S, true);
  uint64_t n = block_count<S, A, Down>(c, op, op.seg, si, ls, false, max);
  if (n) n = block_count<S, A, Down>(c, op, dst_seg(op), di, ld, true, n);
  if (!n) return 0;
  // Host pointers of the first elements; the rest of the block is on the same pages.
  const uint8_t* ps = host_ptr(c, ls, S, false);
  if (!ps) return kNotRam;
  uint8_t* pd = host_ptr(c, ld, S, true);
  if (!pd) return kNotRam;
  // Element-wise copying towards a destination that trails the source by less than the block
  // replicates the source pattern; memmove does not. Copy at most the distance at once, so no
  // element reads what this block writes.
  const uintptr_t hs = reinterpret_cast<uintptr_t>(ps), hd = reinterpret_cast<uintptr_t>(pd);
  const bool hazard = Down ? (hd < hs && hd + n * S > hs) : (hd > hs && hd < hs + n * S);
  if (hazard) {
    const uint64_t dist = Down ? hs - hd : hd - hs;
    if (dist < S) return 0;
    n = std::min(n, dist / S);
  }
  const uint64_t back = Down ? (n - 1) * S : 0;
  std::memmove(pd - back, ps - back, n * S);
  const uint64_t delta = Down ? -n * S : n * S;
  c.set_reg<A>(kRsi, si + delta);
  c.set_reg<A>(kRdi, di + delta);
  return n;
}

template <unsigned S, unsigned A, bool Rep>
void movs(Core& c, const DecodedOp& op) {
  const int64_t d = step(c, S);
  if constexpr (!Rep) {
    movs_one<S, A>(c, op, d);
  } else {
    uint64_t cx = c.reg<A>(kRcx);
    const uint64_t budget = std::min(cx, iteration_budget(c));
    uint64_t done = 0;
    bool fast = kHaveFastPath;
    while (done < budget) {
      if (fast) {
        const uint64_t n = d > 0 ? movs_block<S, A, false>(c, op, budget - done)
                                 : movs_block<S, A, true>(c, op, budget - done);
        if (n == kNotRam) {
          fast = false;
        } else if (n) {
          done += n;
          cx -= n;
          c.set_reg<A>(kRcx, cx);
          continue;
        }
      }
      movs_one<S, A>(c, op, d);
      ++done;
      c.set_reg<A>(kRcx, --cx);
    }
    charge(c, op, (done * S + kFastStringBytesPerUnit - 1) / kFastStringBytesPerUnit);
    if (cx != 0) repeat_later(c);
  }
}

// --- STOS ------------------------------------------------------------------------------------
template <unsigned S, unsigned A>
inline void stos_one(Core& c, const DecodedOp& op, uint64_t v, int64_t d) {
  const uint64_t di = c.reg<A>(kRdi);
  c.write<S>(c.linear_seg(dst_seg(op), di, S, true), v);
  c.set_reg<A>(kRdi, di + d);
}

template <unsigned S, unsigned A, bool Down>
uint64_t stos_block(Core& c, const DecodedOp& op, uint64_t v, uint64_t max) {
  const uint64_t di = c.reg<A>(kRdi);
  const uint64_t ld = c.linear_seg(dst_seg(op), di, S, true);
  const uint64_t n = block_count<S, A, Down>(c, op, dst_seg(op), di, ld, true, max);
  if (!n) return 0;
  uint8_t* pd = host_ptr(c, ld, S, true);
  if (!pd) return kNotRam;
  uint8_t* lo = pd - (Down ? (n - 1) * S : 0);
  if constexpr (S == 1) {
    std::memset(lo, static_cast<int>(v & 0xff), n);
  } else {
    const typename Width<S>::U e = static_cast<typename Width<S>::U>(v);
    for (uint64_t i = 0; i < n; ++i) std::memcpy(lo + i * S, &e, S);
  }
  c.set_reg<A>(kRdi, di + (Down ? -n * S : n * S));
  return n;
}

template <unsigned S, unsigned A, bool Rep>
void stos(Core& c, const DecodedOp& op) {
  const int64_t d = step(c, S);
  const uint64_t v = c.reg<S>(kRax);
  if constexpr (!Rep) {
    stos_one<S, A>(c, op, v, d);
  } else {
    uint64_t cx = c.reg<A>(kRcx);
    const uint64_t budget = std::min(cx, iteration_budget(c));
    uint64_t done = 0;
    bool fast = kHaveFastPath;
    while (done < budget) {
      if (fast) {
        const uint64_t n = d > 0 ? stos_block<S, A, false>(c, op, v, budget - done)
                                 : stos_block<S, A, true>(c, op, v, budget - done);
        if (n == kNotRam) {
          fast = false;
        } else if (n) {
          done += n;
          cx -= n;
          c.set_reg<A>(kRcx, cx);
          continue;
        }
      }
      stos_one<S, A>(c, op, v, d);
      ++done;
      c.set_reg<A>(kRcx, --cx);
    }
    charge(c, op, (done * S + kFastStringBytesPerUnit - 1) / kFastStringBytesPerUnit);
    if (cx != 0) repeat_later(c);
  }
}

// --- LODS ------------------------------------------------------------------------------------
template <unsigned S, unsigned A>
inline void lods_one(Core& c, const DecodedOp& op, int64_t d) {
  const uint64_t si = c.reg<A>(kRsi);
  const uint64_t v = c.read<S>(c.linear_seg(op.seg, si, S, false));
  c.set_reg<S>(kRax, v);
  c.set_reg<A>(kRsi, si + d);
}

template <unsigned S, unsigned A, bool Rep>
void lods(Core& c, const DecodedOp& op) {
  const int64_t d = step(c, S);
  if constexpr (!Rep) {
    lods_one<S, A>(c, op, d);
  } else {
    uint64_t cx = c.reg<A>(kRcx);
    const uint64_t budget = std::min(cx, iteration_budget(c));
    for (uint64_t i = 0; i < budget; ++i) {
      lods_one<S, A>(c, op, d);
      c.set_reg<A>(kRcx, --cx);
    }
    charge(c, op, budget);
    if (cx != 0) repeat_later(c);
  }
}

// --- CMPS and SCAS ---------------------------------------------------------------------------
// Rep: 0 = none, 1 = REPE/REPZ (F3), 2 = REPNE/REPNZ (F2).
template <unsigned S, unsigned A>
inline void cmps_one(Core& c, const DecodedOp& op, int64_t d) {
  const uint64_t si = c.reg<A>(kRsi), di = c.reg<A>(kRdi);
  const uint64_t a = c.read<S>(c.linear_seg(op.seg, si, S, false));
  const uint64_t b = c.read<S>(c.linear_seg(dst_seg(op), di, S, false));
  c.flags.sub<S>(a, b, a - b);
  c.set_reg<A>(kRsi, si + d);
  c.set_reg<A>(kRdi, di + d);
}

template <unsigned S, unsigned A>
inline void scas_one(Core& c, const DecodedOp& op, uint64_t a, int64_t d) {
  const uint64_t di = c.reg<A>(kRdi);
  const uint64_t b = c.read<S>(c.linear_seg(dst_seg(op), di, S, false));
  c.flags.sub<S>(a, b, a - b);
  c.set_reg<A>(kRdi, di + d);
}

// CMPS and SCAS: one comparison, or REPE (Rep 1) / REPNE (Rep 2) repeating it until the count
// runs out or ZF ends the repetition.
template <unsigned A, int Rep, class One>
void compare_string(Core& c, const DecodedOp& op, One one) {
  if constexpr (Rep == 0) {
    one();
  } else {
    uint64_t cx = c.reg<A>(kRcx);
    const uint64_t budget = std::min(cx, iteration_budget(c));
    uint64_t i = 0;
    bool stop = false;
    while (i < budget) {
      one();
      c.set_reg<A>(kRcx, --cx);
      ++i;
      if (c.flags.zf() != (Rep == 1)) {
        stop = true;
        break;
      }
    }
    charge(c, op, i);
    if (cx != 0 && !stop) repeat_later(c);
  }
}

template <unsigned S, unsigned A, int Rep>
void cmps(Core& c, const DecodedOp& op) {
  const int64_t d = step(c, S);
  compare_string<A, Rep>(c, op, [&] { cmps_one<S, A>(c, op, d); });
}

template <unsigned S, unsigned A, int Rep>
void scas(Core& c, const DecodedOp& op) {
  const int64_t d = step(c, S);
  const uint64_t a = c.reg<S>(kRax);
  compare_string<A, Rep>(c, op, [&] { scas_one<S, A>(c, op, a, d); });
}

// --- INS and OUTS ----------------------------------------------------------------------------
template <unsigned S, unsigned A>
inline void ins_one(Core& c, const DecodedOp& op, uint16_t port, int64_t d) {
  const uint64_t di = c.reg<A>(kRdi);
  const uint64_t lin = c.linear_seg(dst_seg(op), di, S, true);
  // The destination must be writable before the port is read: a port read has side effects.
  c.probe_write(lin, S);
  Cycles stall = 0;
  const uint32_t v = c.env().io_read(port, S, stall);
  c.add_cycles(stall);
  c.write<S>(lin, v);
  c.set_reg<A>(kRdi, di + d);
}

template <unsigned S, unsigned A>
inline void outs_one(Core& c, const DecodedOp& op, uint16_t port, int64_t d) {
  const uint64_t si = c.reg<A>(kRsi);
  const uint64_t v = c.read<S>(c.linear_seg(op.seg, si, S, false));
  Cycles stall = 0;
  c.env().io_write(port, S, static_cast<uint32_t>(v), stall);
  c.add_cycles(stall);
  c.set_reg<A>(kRsi, si + d);
}

// INS/OUTS: one element through the port per iteration; the permission check happens once,
// and not at all for a REP with a zero count.
template <unsigned S, unsigned A, bool Rep, bool In>
void port_string(Core& c, const DecodedOp& op) {
  const uint16_t port = static_cast<uint16_t>(c.reg<2>(kRdx));
  if constexpr (Rep) {
    if (c.reg<A>(kRcx) == 0) return;  // no iteration, no permission check
  }
  c.check_io_permission(port, S);
  if (VMXSIM_UNLIKELY(c.vmx_nonroot()) && c.vmx().on_io(port, S, In, true, Rep, false, op)) return;
  const int64_t d = step(c, S);
  auto one = [&] {
    if constexpr (In)
      ins_one<S, A>(c, op, port, d);
    else
      outs_one<S, A>(c, op, port, d);
  };
  if constexpr (!Rep) {
    one();
  } else {
    uint64_t cx = c.reg<A>(kRcx);
    const uint64_t budget = std::min(cx, iteration_budget(c));
    for (uint64_t i = 0; i < budget; ++i) {
      one();
      c.set_reg<A>(kRcx, --cx);
    }
    charge(c, op, budget);
    if (cx != 0) repeat_later(c);
  }
}

template <unsigned S, unsigned A, bool Rep>
void ins(Core& c, const DecodedOp& op) { port_string<S, A, Rep, true>(c, op); }
template <unsigned S, unsigned A, bool Rep>
void outs(Core& c, const DecodedOp& op) { port_string<S, A, Rep, false>(c, op); }

// --- selectors -------------------------------------------------------------------------------
// String instructions have no explicit operands; opsize is the element size, addrsize selects
// the index and count registers.
#define VMXSIM_STRING_SELECT(name, H)                                           \
  template <unsigned S, bool Rep>                                               \
  ExecFn name##_by_addr(const DecodedOp& op) {                                  \
    switch (op.addrsize) {                                                      \
      case 2: return &H<S, 2, Rep>;                                             \
      case 4: return &H<S, 4, Rep>;                                             \
      case 8: return &H<S, 8, Rep>;                                             \
      default: return nullptr;                                                  \
    }                                                                           \
  }                                                                             \
  template <unsigned S>                                                         \
  ExecFn select_##name(const DecodedOp& op) {                                   \
    if (op.nops != 0 || op.opsize != S) return nullptr;                         \
    /* F2 acts like F3 on the non-comparing string instructions. */             \
    return (op.attrs & (attr::kRep | attr::kRepne)) ? name##_by_addr<S, true>(op) \
                                                    : name##_by_addr<S, false>(op); \
  }

VMXSIM_STRING_SELECT(movs, movs)
VMXSIM_STRING_SELECT(stos, stos)
VMXSIM_STRING_SELECT(lods, lods)
VMXSIM_STRING_SELECT(ins, ins)
VMXSIM_STRING_SELECT(outs, outs)
#undef VMXSIM_STRING_SELECT

template <unsigned S, int Rep>
ExecFn cmps_by_addr(const DecodedOp& op) {
  switch (op.addrsize) {
    case 2: return &cmps<S, 2, Rep>;
    case 4: return &cmps<S, 4, Rep>;
    case 8: return &cmps<S, 8, Rep>;
    default: return nullptr;
  }
}
template <unsigned S, int Rep>
ExecFn scas_by_addr(const DecodedOp& op) {
  switch (op.addrsize) {
    case 2: return &scas<S, 2, Rep>;
    case 4: return &scas<S, 4, Rep>;
    case 8: return &scas<S, 8, Rep>;
    default: return nullptr;
  }
}

inline int compare_rep(const DecodedOp& op) {
  // With both prefixes the last one wins on hardware; Zydis reports the effective one.
  if (op.attrs & attr::kRepne) return 2;
  if (op.attrs & attr::kRep) return 1;
  return 0;
}

template <unsigned S>
ExecFn select_cmps(const DecodedOp& op) {
  if (op.nops != 0 || op.opsize != S) return nullptr;  // CMPSD xmm, xmm/m64, imm8 is SSE2
  switch (compare_rep(op)) {
    case 1: return cmps_by_addr<S, 1>(op);
    case 2: return cmps_by_addr<S, 2>(op);
    default: return cmps_by_addr<S, 0>(op);
  }
}

template <unsigned S>
ExecFn select_scas(const DecodedOp& op) {
  if (op.nops != 0 || op.opsize != S) return nullptr;
  switch (compare_rep(op)) {
    case 1: return scas_by_addr<S, 1>(op);
    case 2: return scas_by_addr<S, 2>(op);
    default: return scas_by_addr<S, 0>(op);
  }
}

ExecFn select_movsd(const DecodedOp& op) {
  if (op.nops == 0) return select_movs<4>(op);
  return select_movsd_xmm(op);
}

}  // namespace

void register_string_ops(IsaTable& t) {
  constexpr TimingClass kStr = TimingClass::kString;
  constexpr uint16_t kIoAttrs = attr::kMayExitVmx;
  t.add(ZYDIS_MNEMONIC_MOVSB, &select_movs<1>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_MOVSW, &select_movs<2>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_MOVSD, &select_movsd, kStr, 0, "string_ops");  // + SSE2 MOVSD (sse.cc)
  t.add(ZYDIS_MNEMONIC_MOVSQ, &select_movs<8>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_STOSB, &select_stos<1>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_STOSW, &select_stos<2>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_STOSD, &select_stos<4>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_STOSQ, &select_stos<8>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_LODSB, &select_lods<1>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_LODSW, &select_lods<2>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_LODSD, &select_lods<4>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_LODSQ, &select_lods<8>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_CMPSB, &select_cmps<1>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_CMPSW, &select_cmps<2>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_CMPSD, &select_cmps<4>, kStr, 0, "string_ops");  // SSE2 CMPSD: not implemented
  t.add(ZYDIS_MNEMONIC_CMPSQ, &select_cmps<8>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_SCASB, &select_scas<1>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_SCASW, &select_scas<2>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_SCASD, &select_scas<4>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_SCASQ, &select_scas<8>, kStr, 0, "string_ops");
  t.add(ZYDIS_MNEMONIC_INSB, &select_ins<1>, TimingClass::kIo, kIoAttrs, "string_ops");
  t.add(ZYDIS_MNEMONIC_INSW, &select_ins<2>, TimingClass::kIo, kIoAttrs, "string_ops");
  t.add(ZYDIS_MNEMONIC_INSD, &select_ins<4>, TimingClass::kIo, kIoAttrs, "string_ops");
  t.add(ZYDIS_MNEMONIC_OUTSB, &select_outs<1>, TimingClass::kIo, kIoAttrs, "string_ops");
  t.add(ZYDIS_MNEMONIC_OUTSW, &select_outs<2>, TimingClass::kIo, kIoAttrs, "string_ops");
  t.add(ZYDIS_MNEMONIC_OUTSD, &select_outs<4>, TimingClass::kIo, kIoAttrs, "string_ops");
}

}  // namespace vmxsim::cpu
