// Small helpers shared by the sim unit tests (plain gtest, no gmock).
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace vmxsim_test {

inline ::testing::AssertionResult contains(const char* hay_expr, const char* needle_expr,
                                           const std::string& hay, const std::string& needle) {
  if (hay.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << hay_expr << " does not contain " << needle_expr << "\n  text:   \"" << hay
         << "\"\n  needle: \"" << needle << "\"";
}

}  // namespace vmxsim_test

#define EXPECT_CONTAINS(hay, needle) EXPECT_PRED_FORMAT2(::vmxsim_test::contains, hay, needle)

// The message of the exception `stmt` throws, which must be (derived from) `Ex`.
#define THROW_MSG(stmt, Ex)                       \
  ([&]() -> std::string {                         \
    try {                                         \
      stmt;                                       \
    } catch (const Ex& e) {                       \
      return e.what();                            \
    } catch (...) {                               \
    }                                             \
    ADD_FAILURE() << #stmt " did not throw " #Ex; \
    return {};                                    \
  }())
