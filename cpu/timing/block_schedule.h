// Decode-time timing of a block (runs once per decoded block, never per execution):
//  - classify(): what the execution loop must tell the timing model about an op (a memory
//    operand to charge, whether its address hangs on a load, a branch kind, a serializing class);
//  - schedule_block(): the block's base cycles under an out-of-order core, bounded below by the
//    issue width and by the longest loop-carried register dependence chain through the block
//    (a block usually is a loop body or a piece of one), with serializing instructions draining
//    the pipeline. The cycles are spread over the ops so that a fault mid-block charges the
//    retired part, as the functional profile does.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/cpu_state.h"
#include "cpu/decoded_op.h"
#include "cpu/timing/branch_predictor.h"
#include "cpu/timing/timing_params.h"

namespace vmxsim::cpu::timing {

namespace tflag {
constexpr uint8_t kMem = 1 << 0;        // one explicit memory operand is read or written
constexpr uint8_t kDependent = 1 << 1;  // its address comes from a load (pointer chasing)
constexpr uint8_t kString = 1 << 2;     // string instruction: RSI/RDI ranges
constexpr uint8_t kSerial = 1 << 3;     // serializing class: counted separately in the CPI stack
constexpr unsigned kBranchShift = 4;    // bits 4-6: BranchKind
}  // namespace tflag

inline BranchKind branch_kind(uint8_t tflags) { return static_cast<BranchKind>((tflags >> 4) & 7); }

// Timing classes that drain the pipeline (their latency adds to the block rather than overlapping).
bool is_serializing(TimingClass c);

uint8_t classify(const DecodedOp& op);

// Sets each op's `tflags` and `cycles`; returns the block's base cycles. `latency` is the
// profile's per-class table. `flow` receives the block's dataflow summary for the runtime
// scheduler (TimingModel::flow), which lets the chains of consecutive blocks overlap:
//   [0] issue slots (non-serializing ops)   [1] serializing latency (drains the pipeline)
//   then per register the block writes: v | depth << 8 | ndeps << 24, where depth is the
//   latency from the block's start, followed by ndeps words r | latency << 8: the value is
//   ready `latency` cycles after the incoming value of register r.
Cycles schedule_block(std::vector<DecodedOp>& ops, const uint16_t* latency, const TimingParams& p,
                      std::vector<uint32_t>* flow = nullptr);

// Registers tracked by the dataflow: the 16 GPRs and RFLAGS (inside a block only).
constexpr unsigned kFlowRegs = 17;

}  // namespace vmxsim::cpu::timing
