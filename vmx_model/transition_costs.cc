// The variable part of VM-entry and VM-exit costs (vmx_costs.h): how many optional state
// components the VM-entry and VM-exit controls make a transition load or save. The fixed part
// and the memory traffic are charged where they happen (vm_entry.cc, vm_exit.cc, phys_read).
#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::vmx {

bool VmxUnit::guest_pdptes_in_vmcs() const {
  const cpu::CpuState& s = m_core.s;
  return ctl_proc2(proc2::kEnableEpt) && (s.cr0 & cpu::cr0::kPg) && (s.cr4 & cpu::cr4::kPae) &&
         !(s.efer & cpu::efer::kLma);
}

unsigned VmxUnit::entry_state_components() const {
  return ctl_entry(entryc::kLoadDebugControls) + ctl_entry(entryc::kLoadPat) +
         ctl_entry(entryc::kLoadEfer) + ctl_entry(entryc::kLoadPerfGlobalCtrl) +
         (m_core.m_pdptes_loaded ? 1u : 0u);
}

unsigned VmxUnit::exit_state_components(bool saves_guest) const {
  const unsigned saved = !saves_guest ? 0u
                         : ctl_exit(exitc::kSaveDebugControls) + ctl_exit(exitc::kSavePat) +
                               ctl_exit(exitc::kSaveEfer) + ctl_exit(exitc::kSavePreemptionTimer) +
                               (guest_pdptes_in_vmcs() ? 1u : 0u);
  const unsigned loaded = ctl_exit(exitc::kLoadPat) + ctl_exit(exitc::kLoadEfer) +
                          ctl_exit(exitc::kLoadPerfGlobalCtrl);
  return saved + loaded;
}

}  // namespace vmxsim::vmx
