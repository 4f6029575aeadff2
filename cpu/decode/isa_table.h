// The one table of supported instructions (ARCHITECTURE §2): per Zydis mnemonic, a selector that
// picks the handler for the decoded operand form (or nullptr: that form is not implemented and
// raises #UD), the timing class and attributes. Each handler group (exec/*.cc) registers its
// mnemonics; registering one twice is a fatal error at start-up, so no slot is bound twice.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>
#include <vector>

#include "cpu/decoded_op.h"

namespace vmxsim::cpu {

using SelectFn = ExecFn (*)(const DecodedOp& op);

struct IsaEntry {
  SelectFn select = nullptr;
  TimingClass tclass = TimingClass::kAlu;
  uint16_t attrs = 0;
  const char* group = nullptr;  // handler group, for documentation and coverage reports
};

class IsaTable {
 public:
  static const IsaTable& instance();

  void add(ZydisMnemonic m, SelectFn select, TimingClass tclass, uint16_t attrs,
           const char* group);
  const IsaEntry* find(ZydisMnemonic m) const {
    return (m < m_entries.size() && m_entries[m].select) ? &m_entries[m] : nullptr;
  }
  std::vector<ZydisMnemonic> mnemonics() const;

 private:
  IsaTable();
  std::vector<IsaEntry> m_entries;
};

// Handler groups (one file each under cpu/exec/).
void register_data_movement(IsaTable& t);
void register_arithmetic(IsaTable& t);
void register_logic_shift(IsaTable& t);
void register_bit_ops(IsaTable& t);
void register_mul_div(IsaTable& t);
void register_control_transfer(IsaTable& t);
void register_string_ops(IsaTable& t);
void register_system(IsaTable& t);
void register_sse(IsaTable& t);
void register_mmx(IsaTable& t);
void register_misc(IsaTable& t);
void register_monitor_mwait(IsaTable& t);
void register_vmx(IsaTable& t);  // vmx_model/vmx_instructions.cc

// MOV CRn/DRn forms (system group), chosen by the decoder because they share MOV's mnemonic.
ExecFn select_mov_cr_dr(const DecodedOp& op);
// MMX register forms of mnemonics the SSE group registers (MOVD, MOVQ, PADDB, ...): the SSE
// selectors hand operand forms with an MM register to this one (mmx group).
ExecFn select_mmx(const DecodedOp& op);

// Picks the instantiation of a handler template for an operand size of 1, 2, 4 or 8 bytes.
#define VMXSIM_BY_SIZE(fn, size)              \
  [&]() -> ::vmxsim::cpu::ExecFn {            \
    switch (size) {                           \
      case 1: return &fn<1>;                  \
      case 2: return &fn<2>;                  \
      case 4: return &fn<4>;                  \
      case 8: return &fn<8>;                  \
      default: return nullptr;                \
    }                                         \
  }()
// Same for sizes 2, 4, 8 only (no byte form).
#define VMXSIM_BY_SIZE_V(fn, size)            \
  [&]() -> ::vmxsim::cpu::ExecFn {            \
    switch (size) {                           \
      case 2: return &fn<2>;                  \
      case 4: return &fn<4>;                  \
      case 8: return &fn<8>;                  \
      default: return nullptr;                \
    }                                         \
  }()

// Form predicates for selectors.
inline bool is_reg(const DecodedOp& op, unsigned i) { return op.kind[i] == OpKind::kReg; }
inline bool is_mem(const DecodedOp& op, unsigned i) { return op.kind[i] == OpKind::kMem; }
inline bool is_imm(const DecodedOp& op, unsigned i) { return op.kind[i] == OpKind::kImm; }
inline bool is_rm(const DecodedOp& op, unsigned i) { return is_reg(op, i) || is_mem(op, i); }

}  // namespace vmxsim::cpu
