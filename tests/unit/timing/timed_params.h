// Core parameters for exact-cycle timing tests: every class costs 1 cycle, one op issues per
// cycle, misses do not overlap, small TLBs. Each number in a test's expectations can be followed
// by hand from these values.
#pragma once

#include "cpu/core.h"
#include "tests/unit/cpu/test_machine.h"

namespace vmxsim::test {

inline cpu::CoreParams timed_params() {
  cpu::CoreParams p = TestMachine::default_params();
  cpu::timing::TimingParams& t = p.timing;
  t.enabled = true;
  t.l1i = {32 << 10, 8, 64, 2};
  t.l1d = {32 << 10, 8, 64, 4};
  t.l2 = {256 << 10, 8, 64, 12};
  t.llc = {2 << 20, 16, 64, 40};
  t.memory_latency = 200;
  t.prefetch_streams = 0;
  t.itlb_4k = {16, 0};
  t.itlb_2m = {8, 0};
  t.dtlb_4k = {16, 0};
  t.dtlb_2m = {8, 0};
  t.dtlb_1g = {0, 0};
  t.stlb = {64, 4};
  t.stlb_latency = 7;
  t.walk_latency = 0;
  t.pwc_entries = 8;
  t.pwc_latency = 1;
  t.bp_table_bits = 10;
  t.bp_history_bits = 0;
  t.mispredict_penalty = 20;
  t.issue_width = 1;
  t.memory_parallelism = 1;
  return p;
}

}  // namespace vmxsim::test
