// Division by a divisor fixed at construction, as one multiplication: the timing model divides
// its issue clock by the issue width on every block, where a hardware DIV costs more than the
// rest of the dataflow step.
#pragma once

#include <cstdint>

namespace vmxsim::cpu::timing {

class Divider {
 public:
  explicit Divider(uint64_t d) : m_d(d), m_magic(d > 1 ? ~0ull / d + 1 : 0), m_exact_below(~0ull / d) {}
  // floor(n / d). With magic = ceil(2^64 / d) the product's high half is exact while
  // n * (magic * d - 2^64) < 2^64; magic * d - 2^64 < d, so n < 2^64 / d is enough. Larger n
  // (beyond any simulated run at a few divisors) take the hardware division.
  uint64_t divide(uint64_t n) const {
    if (m_d == 1) return n;
    if (n < m_exact_below)
      return static_cast<uint64_t>((static_cast<unsigned __int128>(n) * m_magic) >> 64);
    return n / m_d;
  }
  uint64_t divisor() const { return m_d; }

 private:
  uint64_t m_d;
  uint64_t m_magic;
  uint64_t m_exact_below;
};

}  // namespace vmxsim::cpu::timing
