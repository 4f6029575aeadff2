// The VMX instructions (SDM Vol. 3C chapter 31): VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST,
// VMREAD, VMWRITE, VMCALL, INVEPT, INVVPID, with their checks in the SDM's order; VMLAUNCH and
// VMRESUME start in vm_entry.cc. Each ends in VMsucceed, VMfailInvalid or VMfailValid(n), a
// fault, or (in VMX non-root operation) a VM exit.
#include <cstring>
#include <string>

#include "cpu/code_map.h"
#include "cpu/core.h"
#include "cpu/decode/isa_table.h"
#include "cpu/timing/timing_model.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

using cpu::Core;
using cpu::DecodedOp;
using cpu::OpKind;

namespace {
constexpr uint64_t kVmArith = cpu::rflags::kArith;
}

bool VmxUnit::vmx_mode_ok() const {
  const Core& c = m_core;
  return m_vmxon && c.protected_mode() && !c.v86_mode() && !(c.long_mode() && !c.in_64bit_mode());
}

void VmxUnit::vm_succeed() { m_core.flags.merge_arith(0, kVmArith); }

void VmxUnit::vm_fail_invalid() {
  ++m_vmfails;
  m_core.flags.merge_arith(cpu::rflags::kCf, kVmArith);
}

void VmxUnit::vm_fail(uint32_t error) {
  if (!current_vmcs_valid()) return vm_fail_invalid();
  ++m_vmfails;
  m_core.flags.merge_arith(cpu::rflags::kZf, kVmArith);
  m_vmcs.set(VmcsField::VM_INSTRUCTION_ERROR, error);
}

bool VmxUnit::valid_phys_addr(uint64_t a) const {
  return (a & 0xfff) == 0 && (a >> m_core.params().phys_addr_bits) == 0;
}

uint64_t VmxUnit::read_operand_addr(const DecodedOp& op) {
  if (op.kind[0] != OpKind::kMem) m_core.raise_ud();
  return m_core.read<8>(m_core.linear(op, 8, false));
}

// Every memory reference of the VMX unit goes through the caches of the timing model, when the
// profile has one (vmx_costs.h).
uint64_t VmxUnit::phys_read(uint64_t paddr, unsigned size) {
  if (cpu::timing::TimingModel* t = m_core.timing_model()) m_core.add_cycles(t->physical(paddr));
  return m_core.phys_read(paddr, size);
}
void VmxUnit::phys_write(uint64_t paddr, unsigned size, uint64_t v) {
  if (cpu::timing::TimingModel* t = m_core.timing_model()) m_core.add_cycles(t->physical(paddr));
  m_core.phys_write(paddr, size, v);
}

// A VMCS region is one page (VMPTRLD and VMCLEAR require 4-KiB alignment). The timing model
// sees one reference per field; in RAM the region is then copied through one DMI lookup instead
// of one per field.
void VmxUnit::charge_region_references(uint64_t addr) {
  cpu::timing::TimingModel* t = m_core.timing_model();
  if (!t) return;
  for (unsigned i = 0; i < kNumVmcsFields; ++i) m_core.add_cycles(t->physical(addr + region::kFieldsOffset + 8 * i));
  m_core.add_cycles(t->physical(addr + region::kLaunchStateOffset));
}

void VmxUnit::read_region(Vmcs& v, uint64_t addr) {
  charge_region_references(addr);
  uint64_t raw[kNumVmcsFields];
  uint32_t launched;
  if (const uint8_t* page = m_core.env().dmi_page(addr, false)) {
    std::memcpy(raw, page + region::kFieldsOffset, sizeof raw);
    std::memcpy(&launched, page + region::kLaunchStateOffset, 4);
  } else {
    for (unsigned i = 0; i < kNumVmcsFields; ++i) raw[i] = m_core.phys_read(addr + region::kFieldsOffset + 8 * i, 8);
    launched = static_cast<uint32_t>(m_core.phys_read(addr + region::kLaunchStateOffset, 4));
  }
  for (unsigned i = 0; i < kNumVmcsFields; ++i) v.value[i] = truncate_to_width(static_cast<VmcsField>(i), raw[i]);
  v.launched = launched == 1;
}

void VmxUnit::write_back(const Vmcs& v, uint64_t addr) {
  charge_region_references(addr);
  const uint32_t launched = v.launched ? 1 : 0;
  if (uint8_t* page = m_core.env().dmi_page(addr, true)) {
    std::memcpy(page + region::kFieldsOffset, v.value, sizeof v.value);
    std::memcpy(page + region::kLaunchStateOffset, &launched, 4);
    m_core.m_code_map.note_write(addr + region::kFieldsOffset, sizeof v.value);
    m_core.m_code_map.note_write(addr + region::kLaunchStateOffset, 4);
    return;
  }
  for (unsigned i = 0; i < kNumVmcsFields; ++i) m_core.phys_write(addr + region::kFieldsOffset + 8 * i, 8, v.value[i]);
  m_core.phys_write(addr + region::kLaunchStateOffset, 4, launched);
}

void VmxUnit::flush_current() {
  if (current_vmcs_valid()) write_back(m_vmcs, m_current);
}

void VmxUnit::load_vmcs(uint64_t addr) {
  if (addr == m_current) return;
  flush_current();
  read_region(m_vmcs, addr);
  m_current = addr;
  m_core.add_cycles(m_costs.vmptrld_cycles);
}

unsigned VmxUnit::operand_segment(const DecodedOp& op) {
  return op.seg < cpu::kNumSegs ? op.seg : static_cast<unsigned>(cpu::kDs);
}

// VM-exit instruction information for VMX instructions with a memory or register operand
// (SDM Table 28-13/28-14): scaling, address size, register/memory, segment, index, base, and
// reg2 (the second register operand).
uint32_t VmxUnit::instruction_info(const DecodedOp& op, unsigned rm_operand, unsigned reg_operand) const {
  uint32_t info = 0;
  const unsigned as = op.addrsize == 8 ? 2 : op.addrsize == 4 ? 1 : 0;
  info |= as << 7;
  if (op.kind[rm_operand] == OpKind::kReg) {
    info |= 1u << 10;
    info |= (op.reg[rm_operand] & 0xfu) << 3;
  } else {
    info |= op.scale & 3;
    info |= operand_segment(op) << 15;
    if (op.index < cpu::kNumGprs) info |= op.index << 18; else info |= 1u << 22;
    if (op.base < cpu::kNumGprs) info |= op.base << 23; else info |= 1u << 27;
  }
  if (reg_operand < 3 && op.kind[reg_operand] == OpKind::kReg) info |= (op.reg[reg_operand] & 0xfu) << 28;
  return info;
}

void VmxUnit::vmxon(const DecodedOp& op) {
  Core& c = m_core;
  if (op.kind[0] != OpKind::kMem || !c.protected_mode() || !(c.s.cr4 & cpu::cr4::kVmxe) ||
      c.v86_mode() || (c.long_mode() && !c.in_64bit_mode()))
    c.raise_ud();
  if (c.vmx_nonroot()) {
    exit_for_instruction(kExitVmxon, static_cast<uint64_t>(op.disp), instruction_info(op, 0, 3));
    return;
  }
  if (!m_vmxon) {
    if (c.cpl() > 0) c.raise_gp0();
    if (!cr0_valid_in_vmx(c.s.cr0) || !cr4_valid_in_vmx(c.s.cr4)) c.raise_gp0();
    const uint64_t fc = c.s.feature_control;
    if (!(fc & feature_control::kLock) || !(fc & feature_control::kVmxOutsideSmx)) c.raise_gp0();
    const uint64_t addr = read_operand_addr(op);
    if (!valid_phys_addr(addr)) return vm_fail_invalid();
    const uint32_t rev = static_cast<uint32_t>(phys_read(addr, 4));
    if (rev != VmxCaps::kRevision) return vm_fail_invalid();
    m_vmxon = true;
    m_vmxon_ptr = addr;
    m_current = kInvalidPtr;
    return vm_succeed();
  }
  if (c.cpl() > 0) c.raise_gp0();
  vm_fail(kErrVmxonInRoot);
}

void VmxUnit::vmxoff(const DecodedOp& op) {
  Core& c = m_core;
  if (!vmx_mode_ok()) c.raise_ud();
  if (c.vmx_nonroot()) {
    exit_for_instruction(kExitVmxoff);
    return;
  }
  if (c.cpl() > 0) c.raise_gp0();
  flush_current();
  m_vmxon = false;
  m_vmxon_ptr = kInvalidPtr;
  m_current = kInvalidPtr;
  request_attention();  // an INIT held while in VMX operation is processed now
  vm_succeed();
}

void VmxUnit::vmclear(const DecodedOp& op) {
  Core& c = m_core;
  if (!vmx_mode_ok() || op.kind[0] != OpKind::kMem) c.raise_ud();
  if (c.vmx_nonroot()) {
    exit_for_instruction(kExitVmclear, static_cast<uint64_t>(op.disp), instruction_info(op, 0, 3));
    return;
  }
  if (c.cpl() > 0) c.raise_gp0();
  const uint64_t addr = read_operand_addr(op);
  if (!valid_phys_addr(addr)) return vm_fail(kErrVmclearInvalidAddr);
  if (addr == m_vmxon_ptr) return vm_fail(kErrVmclearVmxonPtr);
  c.add_cycles(m_costs.vmptrld_cycles);
  if (addr == m_current) {
    m_vmcs.launched = false;
    flush_current();
    m_current = kInvalidPtr;
  } else {
    // Every other VMCS's data is already in its region (the cache holds only the current one).
    phys_write(addr + region::kLaunchStateOffset, 4, 0);
  }
  vm_succeed();
}

void VmxUnit::vmptrld(const DecodedOp& op) {
  Core& c = m_core;
  if (!vmx_mode_ok() || op.kind[0] != OpKind::kMem) c.raise_ud();
  if (c.vmx_nonroot()) {
    exit_for_instruction(kExitVmptrld, static_cast<uint64_t>(op.disp), instruction_info(op, 0, 3));
    return;
  }
  if (c.cpl() > 0) c.raise_gp0();
  const uint64_t addr = read_operand_addr(op);
  if (!valid_phys_addr(addr)) return vm_fail(kErrVmptrldInvalidAddr);
  if (addr == m_vmxon_ptr) return vm_fail(kErrVmptrldVmxonPtr);
  const uint32_t rev = static_cast<uint32_t>(phys_read(addr, 4));
  // Bit 31 marks a shadow VMCS: allowed only with VMCS shadowing.
  const bool shadow_ok = (m_caps.procbased2 >> 32) & proc2::kVmcsShadowing;
  if ((rev & 0x7fffffffu) != VmxCaps::kRevision || ((rev >> 31) && !shadow_ok))
    return vm_fail(kErrVmptrldBadRevision);
  load_vmcs(addr);
  vm_succeed();
}

void VmxUnit::vmptrst(const DecodedOp& op) {
  Core& c = m_core;
  if (!vmx_mode_ok() || op.kind[0] != OpKind::kMem) c.raise_ud();
  if (c.vmx_nonroot()) {
    exit_for_instruction(kExitVmptrst, static_cast<uint64_t>(op.disp), instruction_info(op, 0, 3));
    return;
  }
  if (c.cpl() > 0) c.raise_gp0();
  c.write<8>(c.linear(op, 8, true), m_current);
  vm_succeed();
}

// VMCS shadowing (SDM §25.10): in VMX non-root operation a VMREAD/VMWRITE whose bit in the
// VMREAD/VMWRITE bitmap is clear accesses the shadow VMCS the link pointer names, without an
// exit. True when the access goes to the shadow VMCS.
bool VmxUnit::shadow_access(uint64_t enc, bool write) {
  if (!ctl_proc2(proc2::kVmcsShadowing) || (enc >> 15)) return false;
  const uint64_t bitmap = m_vmcs.get(write ? VmcsField::VMWRITE_BITMAP : VmcsField::VMREAD_BITMAP);
  return !(phys_read(bitmap + (enc & 0x7fff) / 8, 1) & (1u << (enc & 7)));
}

// The VMCS a VMREAD/VMWRITE works on: the current one in VMX root operation, the shadow VMCS
// (read and written in memory, at the link pointer) in non-root operation.
uint64_t VmxUnit::read_field(VmcsField f) {
  if (!m_core.vmx_nonroot()) return m_vmcs.get(f);
  return truncate_to_width(f, phys_read(m_vmcs.get(VmcsField::VMCS_LINK_POINTER) + region::field_offset(f), 8));
}
void VmxUnit::write_field(VmcsField f, uint64_t v) {
  if (!m_core.vmx_nonroot()) return m_vmcs.set(f, v);
  phys_write(m_vmcs.get(VmcsField::VMCS_LINK_POINTER) + region::field_offset(f), 8, truncate_to_width(f, v));
}

bool VmxUnit::vmcs_access_checks(const DecodedOp& op, bool write, unsigned& size, VmcsField& f,
                                 bool& high) {
  Core& c = m_core;
  if (!vmx_mode_ok()) c.raise_ud();
  size = c.in_64bit_mode() ? 8 : 4;
  // VMREAD r/m, reg: the encoding is operand 1; VMWRITE reg, r/m: operand 0.
  const unsigned enc_operand = write ? 0 : 1, rm_operand = write ? 1 : 0;
  const uint64_t enc = c.reg_sized(op.reg[enc_operand], size);
  if (c.vmx_nonroot() && !shadow_access(enc, write)) {
    exit_for_instruction(write ? kExitVmwrite : kExitVmread, static_cast<uint64_t>(op.disp),
                         instruction_info(op, rm_operand, enc_operand));
    return false;
  }
  if (c.cpl() > 0) c.raise_gp0();
  if (!current_vmcs_valid() || (c.vmx_nonroot() && m_vmcs.get(VmcsField::VMCS_LINK_POINTER) == ~0ull)) {
    vm_fail_invalid();
    return false;
  }
  if (!lookup_field(enc, f, high)) {
    vm_fail(kErrUnsupportedField);
    return false;
  }
  return true;
}

void VmxUnit::vmread(const DecodedOp& op) {
  Core& c = m_core;
  unsigned size;
  VmcsField f;
  bool high;
  if (!vmcs_access_checks(op, false, size, f, high)) return;
  uint64_t v = read_field(f);
  if (high) v >>= 32;
  if (size == 4) v &= 0xffffffff;
  if (op.kind[0] == OpKind::kReg)
    c.set_reg_sized(op.reg[0], size, v);
  else
    c.write_sized(c.linear(op, size, true), size, v);
  c.add_cycles(m_costs.vmread_cycles);
  vm_succeed();
}

void VmxUnit::vmwrite(const DecodedOp& op) {
  Core& c = m_core;
  unsigned size;
  VmcsField f;
  bool high;
  if (!vmcs_access_checks(op, true, size, f, high)) return;
  // IA32_VMX_MISC[29]: VMWRITE may write the VM-exit information fields too.
  if (field_info(f).type == FieldType::kReadOnly && !(m_caps.misc & (1ull << 29)))
    return vm_fail(kErrVmwriteReadOnly);
  const uint64_t v = op.kind[1] == OpKind::kReg ? c.reg_sized(op.reg[1], size)
                                                : c.read_sized(c.linear(op, size, false), size);
  if (high)
    write_field(f, (read_field(f) & 0xffffffffull) | ((v & 0xffffffffull) << 32));
  else
    write_field(f, v);  // outside 64-bit mode the upper half of a 64-bit field is cleared
  c.add_cycles(m_costs.vmread_cycles);
  vm_succeed();
}

void VmxUnit::vmcall(const DecodedOp& op) {
  Core& c = m_core;
  if (!m_vmxon) c.raise_ud();
  if (c.vmx_nonroot()) {
    exit_for_instruction(kExitVmcall);
    return;
  }
  if (c.v86_mode() || (c.long_mode() && !c.in_64bit_mode())) c.raise_ud();
  if (c.cpl() > 0) c.raise_gp0();
  // No dual-monitor treatment of SMIs and SMM: VMCALL in VMX root operation fails.
  vm_fail(kErrVmcallInRoot);
}

// VMFUNC (SDM Vol. 3C §26.5.6): only in VMX non-root operation with "enable VM functions";
// function 0 is EPTP switching (EPT_POINTER = entry ECX of the EPTP list, no VM exit). A function
// that is not enabled, an index above 511 or an invalid EPTP is a VM exit (reason 59).
void VmxUnit::vmfunc(const DecodedOp& op) {
  Core& c = m_core;
  if (!c.vmx_nonroot() || !ctl_proc2(proc2::kEnableVmfunc)) c.raise_ud();
  const uint32_t fn = static_cast<uint32_t>(c.reg<4>(cpu::kRax));
  if (fn >= 64 || !((m_vmcs.get(VmcsField::VM_FUNCTION_CONTROL) >> fn) & 1)) {
    exit_for_instruction(kExitVmfunc);
    return;
  }
  const uint32_t index = static_cast<uint32_t>(c.reg<4>(cpu::kRcx));
  if (index >= 512) {
    exit_for_instruction(kExitVmfunc);
    return;
  }
  const uint64_t eptp = phys_read(m_vmcs.get(VmcsField::EPTP_LIST_ADDRESS) + 8ull * index, 8);
  std::string why;
  if (!eptp_valid(eptp, why)) {
    exit_for_instruction(kExitVmfunc);
    return;
  }
  m_vmcs.set(VmcsField::EPT_POINTER, eptp);
  m_vmcs.set(VmcsField::EPTP_INDEX, index);
  // The guest now translates through another EPT: a new translation context.
  if (ctl_proc2(proc2::kEnableVpid))
    c.switch_tlb_context(1, guest_tlb_tag());
  else
    c.flush_tlb(true);
  c.end_block();
}

void VmxUnit::invept(const DecodedOp& op) {
  Core& c = m_core;
  if (!vmx_mode_ok() || !(m_caps.procbased2 >> 32 & proc2::kEnableEpt) || op.kind[1] != OpKind::kMem)
    c.raise_ud();
  if (c.vmx_nonroot()) {
    exit_for_instruction(kExitInvept, static_cast<uint64_t>(op.disp), instruction_info(op, 1, 0));
    return;
  }
  if (c.cpl() > 0) c.raise_gp0();
  const unsigned size = c.in_64bit_mode() ? 8 : 4;
  const uint64_t type = c.reg_sized(op.reg[0], size);
  const uint64_t lin = c.linear(op, 16, false);
  const uint64_t eptp = c.read<8>(lin);
  c.read<8>(lin + 8);  // the reserved half must be readable too
  const bool single = type == 1 && (m_caps.ept_vpid & (1ull << 25));
  const bool all = type == 2 && (m_caps.ept_vpid & (1ull << 26));
  if (!single && !all) return vm_fail(kErrInvalidInvOperand);
  (void)eptp;
  // Guest-physical and combined mappings live in the guest translation context (and, for a
  // guest without VPID, in context 0, which every VM entry and exit flushes anyway): dropping
  // the guest context is a correct superset of both INVEPT types.
  c.flush_guest_tlb_context();
  vm_succeed();
}

void VmxUnit::invvpid(const DecodedOp& op) {
  Core& c = m_core;
  if (!vmx_mode_ok() || !(m_caps.procbased2 >> 32 & proc2::kEnableVpid) || op.kind[1] != OpKind::kMem)
    c.raise_ud();
  if (c.vmx_nonroot()) {
    exit_for_instruction(kExitInvvpid, static_cast<uint64_t>(op.disp), instruction_info(op, 1, 0));
    return;
  }
  if (c.cpl() > 0) c.raise_gp0();
  const unsigned size = c.in_64bit_mode() ? 8 : 4;
  const uint64_t type = c.reg_sized(op.reg[0], size);
  const uint64_t lin = c.linear(op, 16, false);
  const uint64_t lo = c.read<8>(lin);
  const uint64_t addr = c.read<8>(lin + 8);
  if (type > 3 || !(m_caps.ept_vpid & (1ull << (40 + type)))) return vm_fail(kErrInvalidInvOperand);
  if (lo >> 16) return vm_fail(kErrInvalidInvOperand);  // descriptor bits 63:16 reserved
  const uint16_t vpid = static_cast<uint16_t>(lo);
  if (type != 2 && vpid == 0) return vm_fail(kErrInvalidInvOperand);
  if (type == 0 && !cpu::is_canonical(addr))
    return vm_fail(kErrInvalidInvOperand);
  c.flush_guest_tlb_context();  // one VPID context: a superset of every INVVPID type
  vm_succeed();
}

namespace {

template <void (VmxUnit::*F)(const DecodedOp&)>
void call(Core& c, const DecodedOp& op) {
  (c.vmx().*F)(op);
}
void vmlaunch(Core& c, const DecodedOp& op) { c.vmx().vmlaunch_vmresume(op, true); }
void vmresume(Core& c, const DecodedOp& op) { c.vmx().vmlaunch_vmresume(op, false); }
void vmx_absent(Core& c, const DecodedOp&) { c.raise_ud(); }

template <cpu::ExecFn F>
cpu::ExecFn sel(const DecodedOp&) { return F; }

}  // namespace

}  // namespace vmxsim::vmx

namespace vmxsim::cpu {

// VMX instructions: #UD on a processor without VMX (Core::has_vmx is false), else the VMX unit.
void register_vmx(IsaTable& t) {
  using namespace vmx;
  const char* g = "vmx";
  constexpr uint16_t kAttrs = attr::kEndsBlock | attr::kMayExitVmx;
  constexpr TimingClass kT = TimingClass::kSerializing;
  t.add(ZYDIS_MNEMONIC_VMXON, &sel<&call<&VmxUnit::vmxon>>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMXOFF, &sel<&call<&VmxUnit::vmxoff>>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMCLEAR, &sel<&call<&VmxUnit::vmclear>>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMPTRLD, &sel<&call<&VmxUnit::vmptrld>>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMPTRST, &sel<&call<&VmxUnit::vmptrst>>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMREAD, &sel<&call<&VmxUnit::vmread>>, TimingClass::kSystem, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMWRITE, &sel<&call<&VmxUnit::vmwrite>>, TimingClass::kSystem, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMLAUNCH, &sel<&vmlaunch>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMRESUME, &sel<&vmresume>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMCALL, &sel<&call<&VmxUnit::vmcall>>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_INVEPT, &sel<&call<&VmxUnit::invept>>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_INVVPID, &sel<&call<&VmxUnit::invvpid>>, kT, kAttrs, g);
  t.add(ZYDIS_MNEMONIC_VMFUNC, &sel<&call<&VmxUnit::vmfunc>>, kT, kAttrs, g);
  (void)&vmx_absent;
}

}  // namespace vmxsim::cpu
