// Branch prediction for the timing model: gshare for conditional branches (McFarling 1993: a
// table of two-bit saturating counters indexed by the branch address XOR the global history of
// outcomes), a direct-mapped target cache for indirect jumps and calls, and a return-address
// stack. Direct jumps and calls are always predicted (their target is in the instruction).
// Only the outcome matters here: a misprediction costs the profile's penalty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/timing/timing_params.h"

namespace vmxsim::cpu::timing {

enum class BranchKind : uint8_t { kNone, kConditional, kDirect, kDirectCall, kIndirect,
                                  kIndirectCall, kReturn };

struct BranchStats {
  uint64_t conditional = 0, conditional_mispredicts = 0;
  uint64_t indirect = 0, indirect_mispredicts = 0;
  uint64_t returns = 0, return_mispredicts = 0;
};

class BranchPredictor {
 public:
  explicit BranchPredictor(const TimingParams& p);

  // A branch at `pc` of `kind` went to `target`; `fallthrough` is the next instruction. Returns
  // true when the predictor got it wrong (and learns from the outcome).
  bool resolve(BranchKind kind, uint64_t pc, uint64_t target, uint64_t fallthrough);

  const BranchStats& stats() const { return m_stats; }
  BranchStats& stats() { return m_stats; }
  uint64_t mispredicts() const {
    return m_stats.conditional_mispredicts + m_stats.indirect_mispredicts + m_stats.return_mispredicts;
  }

 private:
  bool conditional(uint64_t pc, bool taken);
  bool indirect(uint64_t pc, uint64_t target);
  bool ret(uint64_t target);
  void push_return(uint64_t addr);

  std::vector<uint8_t> m_counters;  // two-bit, initialised weakly not-taken
  uint64_t m_index_mask;
  uint64_t m_history = 0;
  uint64_t m_history_mask;
  std::vector<uint64_t> m_btb;      // indirect targets, indexed by pc
  std::vector<uint64_t> m_ras;
  unsigned m_ras_top = 0;           // number of pushes mod size (circular: overflow overwrites)
  unsigned m_ras_depth = 0;
  BranchStats m_stats;
};

}  // namespace vmxsim::cpu::timing
