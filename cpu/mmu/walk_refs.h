// The page-table references a hardware walk of one linear address would make, for the timing
// model (cpu/timing/tlb_model.h). Reads the current paging structures without side effects: no
// accessed/dirty bits, no faults, no fast-TLB fills — the functional walk (page_walk.cc) stays
// the only one that changes architectural state.
#pragma once

#include "cpu/timing/tlb_model.h"

namespace vmxsim::cpu {

class Core;

class CoreWalkSource final : public timing::WalkSource {
 public:
  explicit CoreWalkSource(Core& core) : m_core(core) {}
  bool walk(uint64_t lin, timing::WalkRefs& out) override;

 private:
  uint64_t read_entry(uint64_t paddr, unsigned size);
  Core& m_core;
};

}  // namespace vmxsim::cpu
