// Lazily evaluated arithmetic flags (ARCHITECTURE §2). Arithmetic instructions record their
// result (sign-extended to 64 bits, so SF is bit 63 and ZF is "result == 0") and the three
// flags that depend on carries (CF, AF, OF, in their RFLAGS positions). ZF, SF and PF are
// derived only when somebody reads them. Instructions that set flags explicitly (POPF, SAHF,
// shifts by 0, ...) leave the lazy state and write the bits directly.
#pragma once

#include <cstdint>

#include "cpu/cpu_state.h"

namespace vmxsim::cpu {

template <unsigned Size>
struct Width;
template <> struct Width<1> { using U = uint8_t;  using S = int8_t;  static constexpr unsigned kBits = 8; };
template <> struct Width<2> { using U = uint16_t; using S = int16_t; static constexpr unsigned kBits = 16; };
template <> struct Width<4> { using U = uint32_t; using S = int32_t; static constexpr unsigned kBits = 32; };
template <> struct Width<8> { using U = uint64_t; using S = int64_t; static constexpr unsigned kBits = 64; };

template <unsigned Size>
constexpr uint64_t sign_extend(uint64_t v) {
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<typename Width<Size>::S>(v)));
}
template <unsigned Size>
constexpr uint64_t sign_bit(uint64_t v) {
  return (v >> (Width<Size>::kBits - 1)) & 1;
}

class LazyFlags {
 public:
  // The full RFLAGS value given the non-arithmetic bits kept by the core.
  uint64_t arith() const {
    if (!m_lazy) return m_explicit;
    return m_aux | (m_res == 0 ? rflags::kZf : 0) | ((m_res >> 63) ? rflags::kSf : 0) |
           (__builtin_parity(m_res & 0xff) ? 0 : rflags::kPf);
  }
  bool cf() const { return (m_lazy ? m_aux : m_explicit) & rflags::kCf; }
  bool zf() const { return m_lazy ? m_res == 0 : (m_explicit & rflags::kZf) != 0; }
  bool sf() const { return m_lazy ? (m_res >> 63) != 0 : (m_explicit & rflags::kSf) != 0; }
  bool of() const { return (m_lazy ? m_aux : m_explicit) & rflags::kOf; }

  // Explicit arithmetic flags (only the rflags::kArith bits of `v` are used).
  void set_arith(uint64_t v) {
    m_lazy = false;
    m_explicit = v & rflags::kArith;
  }
  // Replace the flags in `mask` by those in `v`, keep the others.
  void merge_arith(uint64_t v, uint64_t mask) { set_arith((arith() & ~mask) | (v & mask)); }

  template <unsigned Size>
  void logic(uint64_t r) {  // AND, OR, XOR, TEST: CF=OF=0; AF is undefined, Intel clears it
    m_lazy = true;
    m_res = sign_extend<Size>(r);
    m_aux = 0;
  }
  template <unsigned Size>
  void add(uint64_t a, uint64_t b, uint64_t r, bool carry_in = false) {
    using U = typename Width<Size>::U;
    const U ua = U(a), ur = U(r);
    const bool cf = carry_in ? ur <= ua : ur < ua;
    set_result<Size>(r, cf, a ^ b ^ r, sign_bit<Size>((a ^ r) & (b ^ r)));
  }
  template <unsigned Size>
  void sub(uint64_t a, uint64_t b, uint64_t r, bool borrow_in = false) {
    using U = typename Width<Size>::U;
    const U ua = U(a), ub = U(b);
    const bool cf = borrow_in ? ua <= ub : ua < ub;
    set_result<Size>(r, cf, a ^ b ^ r, sign_bit<Size>((a ^ b) & (a ^ r)));
  }
  // INC and DEC leave CF unchanged.
  template <unsigned Size>
  void inc(uint64_t a, uint64_t r) {
    const bool cf = this->cf();
    set_result<Size>(r, cf, a ^ 1 ^ r, sign_bit<Size>(~a & r));
  }
  template <unsigned Size>
  void dec(uint64_t a, uint64_t r) {
    const bool cf = this->cf();
    set_result<Size>(r, cf, a ^ 1 ^ r, sign_bit<Size>(a & ~r));
  }
  // Result-derived ZF/SF/PF with explicitly given CF, OF and AF (shifts, multiplies, ...).
  template <unsigned Size>
  void result_with(uint64_t r, bool cf, bool of, bool af) {
    m_lazy = true;
    m_res = sign_extend<Size>(r);
    m_aux = (cf ? rflags::kCf : 0) | (of ? rflags::kOf : 0) | (af ? rflags::kAf : 0);
  }

 private:
  template <unsigned Size>
  void set_result(uint64_t r, bool cf, uint64_t af_vec, uint64_t of) {
    m_lazy = true;
    m_res = sign_extend<Size>(r);
    m_aux = (cf ? rflags::kCf : 0) | (af_vec & rflags::kAf) | (of << 11);
  }

  bool m_lazy = false;
  uint64_t m_res = 0;
  uint64_t m_aux = 0;
  uint64_t m_explicit = 0;
};

// Condition codes in the encoding order of Jcc/SETcc/CMOVcc (SDM Vol. 1 Appendix B).
enum class Cond : uint8_t { kO, kNo, kB, kNb, kZ, kNz, kBe, kNbe, kS, kNs, kP, kNp, kL, kNl, kLe, kNle };

inline bool eval_cond(const LazyFlags& f, Cond cc) {
  const unsigned c = static_cast<unsigned>(cc);
  bool r;
  switch (c >> 1) {
    case 0: r = f.of(); break;
    case 1: r = f.cf(); break;
    case 2: r = f.zf(); break;
    case 3: r = f.cf() || f.zf(); break;
    case 4: r = f.sf(); break;
    case 5: r = (f.arith() & rflags::kPf) != 0; break;
    case 6: r = f.sf() != f.of(); break;
    default: r = f.zf() || (f.sf() != f.of()); break;
  }
  return r != (c & 1);
}

}  // namespace vmxsim::cpu
