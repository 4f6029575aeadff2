// Lane-wise packed-integer operations shared by the SSE (XMM, 16 bytes) and MMX (MM, 8 bytes)
// handler groups (SDM Vol. 1 §9.4, §11.4). Each functor's apply<W>(dst, src, imm8) works on a
// W-byte vector in place: dst is the destination register's bytes, src the source operand's.
// The SSE group calls apply() (W = 16), the MMX group apply<8>().
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace vmxsim::cpu::simd {

template <typename T, unsigned W = 16>
struct V {
  static constexpr unsigned N = W / sizeof(T);
  T e[N];
  static V load(const uint8_t* p) {
    V v;
    std::memcpy(v.e, p, W);
    return v;
  }
  void store(uint8_t* p) const { std::memcpy(p, e, W); }
};

template <typename T>
constexpr T sat(int64_t v) {
  return static_cast<T>(std::clamp<int64_t>(v, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
}

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

#define VMXSIM_LANE_OP(Name, T, expr)                                          \
  struct Name {                                                                \
    template <unsigned W = 16>                                                 \
    static void apply(uint8_t* dp, const uint8_t* sp, uint8_t) {               \
      V<T, W> d = V<T, W>::load(dp);                                           \
      const V<T, W> s = V<T, W>::load(sp);                                     \
      for (unsigned i = 0; i < V<T, W>::N; ++i) {                              \
        const T a = d.e[i], b = s.e[i];                                        \
        d.e[i] = static_cast<T>(expr);                                         \
      }                                                                        \
      d.store(dp);                                                             \
    }                                                                          \
  };

VMXSIM_LANE_OP(OpPaddb, uint8_t, a + b)
VMXSIM_LANE_OP(OpPaddw, uint16_t, a + b)
VMXSIM_LANE_OP(OpPaddd, uint32_t, a + b)
VMXSIM_LANE_OP(OpPaddq, uint64_t, a + b)
VMXSIM_LANE_OP(OpPsubb, uint8_t, a - b)
VMXSIM_LANE_OP(OpPsubw, uint16_t, a - b)
VMXSIM_LANE_OP(OpPsubd, uint32_t, a - b)
VMXSIM_LANE_OP(OpPsubq, uint64_t, a - b)
VMXSIM_LANE_OP(OpPaddsb, int8_t, sat<int8_t>(int64_t(a) + b))
VMXSIM_LANE_OP(OpPaddsw, int16_t, sat<int16_t>(int64_t(a) + b))
VMXSIM_LANE_OP(OpPaddusb, uint8_t, sat<uint8_t>(int64_t(a) + b))
VMXSIM_LANE_OP(OpPaddusw, uint16_t, sat<uint16_t>(int64_t(a) + b))
VMXSIM_LANE_OP(OpPsubsb, int8_t, sat<int8_t>(int64_t(a) - b))
VMXSIM_LANE_OP(OpPsubsw, int16_t, sat<int16_t>(int64_t(a) - b))
VMXSIM_LANE_OP(OpPsubusb, uint8_t, sat<uint8_t>(int64_t(a) - b))
VMXSIM_LANE_OP(OpPsubusw, uint16_t, sat<uint16_t>(int64_t(a) - b))
VMXSIM_LANE_OP(OpPcmpeqb, uint8_t, a == b ? 0xff : 0)
VMXSIM_LANE_OP(OpPcmpeqw, uint16_t, a == b ? 0xffff : 0)
VMXSIM_LANE_OP(OpPcmpeqd, uint32_t, a == b ? 0xffffffffu : 0)
VMXSIM_LANE_OP(OpPcmpgtb, int8_t, a > b ? -1 : 0)
VMXSIM_LANE_OP(OpPcmpgtw, int16_t, a > b ? -1 : 0)
VMXSIM_LANE_OP(OpPcmpgtd, int32_t, a > b ? -1 : 0)
VMXSIM_LANE_OP(OpPminub, uint8_t, a < b ? a : b)
VMXSIM_LANE_OP(OpPmaxub, uint8_t, a > b ? a : b)
VMXSIM_LANE_OP(OpPminsw, int16_t, a < b ? a : b)
VMXSIM_LANE_OP(OpPmaxsw, int16_t, a > b ? a : b)
VMXSIM_LANE_OP(OpPavgb, uint8_t, (uint32_t(a) + b + 1) >> 1)
VMXSIM_LANE_OP(OpPavgw, uint16_t, (uint32_t(a) + b + 1) >> 1)
VMXSIM_LANE_OP(OpPmullw, uint16_t, uint32_t(a) * uint32_t(b))
VMXSIM_LANE_OP(OpPmulhw, int16_t, (int32_t(a) * int32_t(b)) >> 16)
VMXSIM_LANE_OP(OpPmulhuw, uint16_t, (uint32_t(a) * uint32_t(b)) >> 16)
VMXSIM_LANE_OP(OpPand, uint64_t, a & b)
VMXSIM_LANE_OP(OpPandn, uint64_t, ~a & b)
VMXSIM_LANE_OP(OpPor, uint64_t, a | b)
VMXSIM_LANE_OP(OpPxor, uint64_t, a ^ b)
#undef VMXSIM_LANE_OP

// PMULUDQ: each quadword := low dword of dst quadword * low dword of src quadword.
struct OpPmuludq {
  template <unsigned W = 16>
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t) {
    const V<uint32_t, W> d = V<uint32_t, W>::load(dp), s = V<uint32_t, W>::load(sp);
    V<uint64_t, W> r;
    for (unsigned q = 0; q < W / 8; ++q) r.e[q] = uint64_t(d.e[2 * q]) * s.e[2 * q];
    r.store(dp);
  }
};

struct OpPmaddwd {
  template <unsigned W = 16>
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t) {
    const V<int16_t, W> d = V<int16_t, W>::load(dp), s = V<int16_t, W>::load(sp);
    V<uint32_t, W> r;
    for (unsigned i = 0; i < W / 4; ++i)
      r.e[i] = static_cast<uint32_t>(int64_t(d.e[2 * i]) * s.e[2 * i] +
                                     int64_t(d.e[2 * i + 1]) * s.e[2 * i + 1]);
    r.store(dp);
  }
};

// PSADBW: per quadword, the sum of absolute byte differences, zero-extended.
struct OpPsadbw {
  template <unsigned W = 16>
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t) {
    V<uint64_t, W> r;
    for (unsigned q = 0; q < W / 8; ++q) {
      uint64_t sum = 0;
      for (unsigned i = 8 * q; i < 8 * q + 8; ++i)
        sum += dp[i] > sp[i] ? dp[i] - sp[i] : sp[i] - dp[i];
      r.e[q] = sum;
    }
    r.store(dp);
  }
};

// PACKSSWB / PACKSSDW / PACKUSWB: destination elements first, then source elements, saturated.
template <typename From, typename To>
struct OpPack {
  template <unsigned W = 16>
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t) {
    const V<From, W> d = V<From, W>::load(dp), s = V<From, W>::load(sp);
    constexpr unsigned N = V<From, W>::N;
    V<To, W> r;
    for (unsigned i = 0; i < N; ++i) {
      r.e[i] = sat<To>(d.e[i]);
      r.e[N + i] = sat<To>(s.e[i]);
    }
    r.store(dp);
  }
};

// PUNPCKL*/PUNPCKH*, UNPCKL*/UNPCKH*: interleave the low (High=false) or high halves.
template <typename T, bool High>
struct OpUnpack {
  template <unsigned W = 16>
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t) {
    const V<T, W> d = V<T, W>::load(dp), s = V<T, W>::load(sp);
    constexpr unsigned H = V<T, W>::N / 2, base = High ? H : 0;
    V<T, W> r;
    for (unsigned i = 0; i < H; ++i) {
      r.e[2 * i] = d.e[base + i];
      r.e[2 * i + 1] = s.e[base + i];
    }
    r.store(dp);
  }
};

// PSHUFLW (High=false) and PSHUFHW (High=true) on XMM; at W = 8, PSHUFLW is MMX's PSHUFW.
template <bool High>
struct OpPshufw {
  template <unsigned W = 16>
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t imm) {
    const V<uint16_t, W> s = V<uint16_t, W>::load(sp);
    V<uint16_t, W> r = s;
    constexpr unsigned base = High ? 4 : 0;
    for (unsigned i = 0; i < 4; ++i) r.e[base + i] = s.e[base + ((imm >> (2 * i)) & 3)];
    r.store(dp);
  }
};

// Shifts by a count: imm8, or the low quadword of the source operand (SDM: counts above the
// element width clear the element, or fill it with the sign bit for arithmetic shifts).
template <typename T, bool Left, bool Arith>
struct Shift {
  template <unsigned W = 16>
  static void apply_count(uint8_t* dp, uint64_t count) {
    constexpr unsigned kBits = sizeof(T) * 8;
    V<T, W> d = V<T, W>::load(dp);
    for (unsigned i = 0; i < V<T, W>::N; ++i) {
      if constexpr (Arith) {
        using S = std::make_signed_t<T>;
        const unsigned n = count > kBits - 1 ? kBits - 1 : static_cast<unsigned>(count);
        d.e[i] = static_cast<T>(static_cast<S>(d.e[i]) >> n);
      } else if (count > kBits - 1) {
        d.e[i] = 0;
      } else if constexpr (Left) {
        d.e[i] = static_cast<T>(d.e[i] << count);
      } else {
        d.e[i] = static_cast<T>(d.e[i] >> count);
      }
    }
    d.store(dp);
  }
  template <unsigned W = 16>
  static void apply(uint8_t* dp, const uint8_t* sp, uint8_t) {
    apply_count<W>(dp, load64(sp));
  }
};

}  // namespace vmxsim::cpu::simd
