// Optional architectural features a CPU profile (or --set system.cpu.feature.NAME=false) can
// switch off. CPUID advertises exactly these, and the instructions and control-register bits
// that depend on them fault when they are off, as on a processor without them.
#pragma once

namespace vmxsim::cpu {

#define VMXSIM_CPU_FEATURES(X)                                                        \
  X(x2apic, "x2APIC mode of the local APIC (CPUID.1:ECX[21])")                      \
  X(tsc_deadline, "TSC-deadline timer mode (CPUID.1:ECX[24])")                      \
  X(pcid, "process-context identifiers, CR4.PCIDE (CPUID.1:ECX[17])")               \
  X(invpcid, "INVPCID instruction (CPUID.7.0:EBX[10])")                             \
  X(smep, "supervisor-mode execution prevention, CR4.SMEP (CPUID.7.0:EBX[7])")      \
  X(smap, "supervisor-mode access prevention, CR4.SMAP, CLAC/STAC (CPUID.7.0:EBX[20])") \
  X(umip, "user-mode instruction prevention, CR4.UMIP (CPUID.7.0:ECX[2])")          \
  X(monitor, "MONITOR/MWAIT (CPUID.1:ECX[3]), address-range monitoring")               \
  X(rdtscp, "RDTSCP instruction and IA32_TSC_AUX (CPUID.80000001:EDX[27])")         \
  X(rdpid, "RDPID instruction, reads IA32_TSC_AUX (CPUID.7.0:ECX[22])")              \
  X(page1gb, "1 GiB pages (CPUID.80000001:EDX[26])")                               \
  X(vmx, "virtual-machine extensions, VMX (CPUID.1:ECX[5])")                         \
  X(vmx_ept, "VMX extended page tables (IA32_VMX_PROCBASED_CTLS2[33])")             \
  X(vmx_vpid, "VMX virtual-processor identifiers (IA32_VMX_PROCBASED_CTLS2[37])")    \
  X(vmx_unrestricted_guest, "VMX unrestricted guest (IA32_VMX_PROCBASED_CTLS2[39])") \
  X(vmx_preemption_timer, "VMX-preemption timer (IA32_VMX_PINBASED_CTLS[38])")       \
  X(vmx_apicv, "VMX APIC virtualization beyond the TPR shadow: APIC-register virtualization, "  \
               "virtual-interrupt delivery, posted interrupts (Xeon parts; client parts lack it)") \
  X(vmx_vmcs_shadowing, "VMX VMCS shadowing (IA32_VMX_PROCBASED_CTLS2[46])")          \
  X(vmx_vmfunc, "VMX VM functions: EPTP switching (IA32_VMX_PROCBASED_CTLS2[45], with EPT)") \
  X(vmx_pml, "VMX page-modification logging (IA32_VMX_PROCBASED_CTLS2[49], with EPT)")  \
  X(vmx_mbec, "VMX mode-based execute control for EPT (IA32_VMX_PROCBASED_CTLS2[54])")

struct CpuFeatures {
#define VMXSIM_FEATURE_FIELD(name, desc) bool name = true;
  VMXSIM_CPU_FEATURES(VMXSIM_FEATURE_FIELD)
#undef VMXSIM_FEATURE_FIELD
};

}  // namespace vmxsim::cpu
