// timing::Divider (cpu/timing/divider.h): the multiply must give exactly what DIV gives, for
// every divisor an issue width can be, at the dividends a run reaches and at the edges where
// the multiply hands over to the hardware division.
#include "cpu/timing/divider.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <random>

namespace vmxsim::cpu::timing {
namespace {

TEST(Divider, MatchesDivisionForSmallDividends) {
  for (uint64_t d = 1; d <= 64; ++d) {
    const Divider div(d);
    for (uint64_t n = 0; n < 100000; ++n) ASSERT_EQ(div.divide(n), n / d) << n << " / " << d;
  }
}

TEST(Divider, MatchesDivisionForLargeAndEdgeDividends) {
  std::mt19937_64 rng(7);
  for (uint64_t d : std::initializer_list<uint64_t>{1ull, 2ull, 3ull, 4ull, 5ull, 6ull, 7ull, 8ull, 12ull, 16ull, 63ull, 1000ull,
                     (1ull << 32) + 1, ~0ull}) {
    const Divider div(d);
    const uint64_t limit = ~0ull / d;
    for (uint64_t n : std::initializer_list<uint64_t>{limit - 2, limit - 1, limit, limit + 1, ~0ull - 1, ~0ull, d * 1000003 - 1,
                                                      d * 1000003, (1ull << 60) - 1, 1ull << 60}) {
      ASSERT_EQ(div.divide(n), n / d) << n << " / " << d;
    }
    for (int i = 0; i < 200000; ++i) {
      const uint64_t n = rng() >> (rng() % 64);
      ASSERT_EQ(div.divide(n), n / d) << n << " / " << d;
    }
  }
}

}  // namespace
}  // namespace vmxsim::cpu::timing
