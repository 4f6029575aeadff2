#include "cpu/decode/isa_table.h"

#include <cstdio>
#include <cstdlib>

namespace vmxsim::cpu {

IsaTable::IsaTable() : m_entries(ZYDIS_MNEMONIC_MAX_VALUE + 1) {
  register_data_movement(*this);
  register_arithmetic(*this);
  register_logic_shift(*this);
  register_bit_ops(*this);
  register_mul_div(*this);
  register_control_transfer(*this);
  register_string_ops(*this);
  register_system(*this);
  register_sse(*this);
  register_mmx(*this);
  register_misc(*this);
  register_monitor_mwait(*this);
  register_vmx(*this);
}

const IsaTable& IsaTable::instance() {
  static const IsaTable table;
  return table;
}

void IsaTable::add(ZydisMnemonic m, SelectFn select, TimingClass tclass, uint16_t attrs,
                   const char* group) {
  if (m <= ZYDIS_MNEMONIC_INVALID || m > ZYDIS_MNEMONIC_MAX_VALUE || !select) {
    std::fprintf(stderr, "vmxsim: internal error: bad ISA table entry in group %s\n", group);
    std::abort();
  }
  if (m_entries[m].select) {
    std::fprintf(stderr, "vmxsim: internal error: %s registered by both %s and %s\n",
                 ZydisMnemonicGetString(m), m_entries[m].group, group);
    std::abort();
  }
  m_entries[m] = IsaEntry{select, tclass, attrs, group};
}

std::vector<ZydisMnemonic> IsaTable::mnemonics() const {
  std::vector<ZydisMnemonic> out;
  for (size_t i = 0; i < m_entries.size(); ++i)
    if (m_entries[i].select) out.push_back(static_cast<ZydisMnemonic>(i));
  return out;
}

}  // namespace vmxsim::cpu
