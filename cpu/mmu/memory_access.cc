// The slow memory path: segment checks, page-crossing accesses, MMIO, self-modifying-code
// detection, and the stack helpers built on them.
#include "cpu/code_map.h"
#include "cpu/core.h"
#include "vmx_model/vmx_unit.h"

namespace vmxsim::cpu {


uint64_t Core::phys_read(uint64_t paddr, unsigned size) {
  if (const uint8_t* page = m_env.dmi_page(paddr, false)) {
    uint64_t v = 0;
    std::memcpy(&v, page + (paddr & 0xfff), size);
    return v;
  }
  Cycles stall = 0;
  const uint64_t v = m_env.phys_read(paddr, size, stall);
  m_cycles += stall;
  return v;
}

void Core::phys_write(uint64_t paddr, unsigned size, uint64_t v) {
  if (uint8_t* page = m_env.dmi_page(paddr, true)) {
    std::memcpy(page + (paddr & 0xfff), &v, size);
    m_code_map.note_write(paddr, size);
    return;
  }
  Cycles stall = 0;
  m_env.phys_write(paddr, size, v, stall);
  m_cycles += stall;
}

// A non-canonical data address is #SS(0) when the instruction's segment is SS, else #GP(0).
void Core::raise_noncanonical() {
  raise_segment_fault(m_cur_op ? m_cur_op->seg : kDs);
}

uint64_t Core::read_slow(uint64_t lin, unsigned size) {
  if (long_mode() && !is_canonical(lin)) raise_noncanonical();
  // #AC(0) for a misaligned access at CPL 3 with CR0.AM and RFLAGS.AC (SDM Vol. 3 §6.15).
  if (VMXSIM_UNLIKELY(m_align_check) && (lin & (size - 1)) && size <= 8) raise(kAc, 0);
  const unsigned off = lin & 0xfff;
  if (off + size <= 4096) {
    const uint64_t p = translate(lin, kAccessRead);
    // A guest's xAPIC MMIO through the APIC-access page is virtualized (never in the fast TLB).
    if (VMXSIM_UNLIKELY((p & ~0xfffull) == m_apic_access_page)) return m_vmx->apic_access_read(p & 0xfff, size);
    const uint64_t v = phys_read(p, size);
    if (VMXSIM_UNLIKELY(m_bp_read_mask)) check_data_breakpoints(lin, size, false);
    return v;
  }
  // Page-crossing: translate both pages before reading (either may fault).
  const unsigned first = 4096 - off;
  const uint64_t lin2 = (lin + first) & m_lin_mask;
  if (long_mode() && !is_canonical(lin2)) raise_noncanonical();
  const uint64_t p1 = translate(lin, kAccessRead);
  const uint64_t p2 = translate(lin2, kAccessRead);
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const uint64_t b = i < first ? phys_read(p1 + i, 1) : phys_read(p2 + (i - first), 1);
    v |= b << (8 * i);
  }
  if (VMXSIM_UNLIKELY(m_bp_read_mask)) check_data_breakpoints(lin, size, false);
  return v;
}

void Core::write_slow(uint64_t lin, unsigned size, uint64_t v) {
  if (long_mode() && !is_canonical(lin)) raise_noncanonical();
  if (VMXSIM_UNLIKELY(m_align_check) && (lin & (size - 1)) && size <= 8) raise(kAc, 0);
  const unsigned off = lin & 0xfff;
  if (off + size <= 4096) {
    const uint64_t p = translate(lin, kAccessWrite);
    if (VMXSIM_UNLIKELY((p & ~0xfffull) == m_apic_access_page)) return m_vmx->apic_access_write(p & 0xfff, size, v);
    phys_write(p, size, v);
    if (VMXSIM_UNLIKELY(m_bp_data_mask)) check_data_breakpoints(lin, size, true);
    return;
  }
  const unsigned first = 4096 - off;
  const uint64_t lin2 = (lin + first) & m_lin_mask;
  if (long_mode() && !is_canonical(lin2)) raise_noncanonical();
  const uint64_t p1 = translate(lin, kAccessWrite);
  const uint64_t p2 = translate(lin2, kAccessWrite);
  for (unsigned i = 0; i < size; ++i) {
    const uint64_t b = (v >> (8 * i)) & 0xff;
    if (i < first)
      phys_write(p1 + i, 1, b);
    else
      phys_write(p2 + (i - first), 1, b);
  }
  if (VMXSIM_UNLIKELY(m_bp_data_mask)) check_data_breakpoints(lin, size, true);
}

// A page whose write tag is in the fast TLB takes the write without a fault: no walk needed.
void Core::probe_write(uint64_t lin, unsigned size) {
  const uint64_t last = (lin + size - 1) & m_lin_mask;
  if (m_tlb->entry(lin).write_tag == (lin & ~0xfffull) && m_tlb->entry(last).write_tag == (last & ~0xfffull))
    return;
  if (long_mode() && !is_canonical(lin)) raise_gp0();
  translate(lin, kAccessWrite);
  if ((last & ~0xfffull) != (lin & ~0xfffull)) {
    if (long_mode() && !is_canonical(last)) raise_gp0();
    translate(last, kAccessWrite);
  }
}

void Core::probe_read(uint64_t lin, unsigned size) {
  const uint64_t last = (lin + size - 1) & m_lin_mask;
  if (m_tlb->entry(lin).read_tag == (lin & ~0xfffull) && m_tlb->entry(last).read_tag == (last & ~0xfffull))
    return;
  if (long_mode() && !is_canonical(lin)) raise_noncanonical();
  translate(lin, kAccessRead);
  if ((last & ~0xfffull) != (lin & ~0xfffull)) {
    if (long_mode() && !is_canonical(last)) raise_noncanonical();
    translate(last, kAccessRead);
  }
}

// A host pointer to `n` bytes at `lin` within one RAM page (translating on a miss, which may
// fault), or nullptr for MMIO, a page crossing, or a write to a page that holds code (those must
// take the element-by-element path, where self-modifying code is detected).
uint8_t* Core::host_ptr(uint64_t lin, unsigned n, bool write) {
  const uint64_t page = lin & ~0xfffull;
  if ((lin & 0xfff) + n > 4096) return nullptr;
  const FastTlbEntry& e = m_tlb->entry(lin);
  if ((write ? e.write_tag : e.read_tag) != page) {
    if (long_mode() && !is_canonical(lin)) raise_noncanonical();
    translate(lin, write ? kAccessWrite : kAccessRead);
    if ((write ? e.write_tag : e.read_tag) != page) return nullptr;
  }
  return reinterpret_cast<uint8_t*>(lin + e.addend);
}

uint64_t Core::read_sized(uint64_t lin, unsigned size) {
  switch (size) {
    case 1: return read<1>(lin);
    case 2: return read<2>(lin);
    case 4: return read<4>(lin);
    default: return read<8>(lin);
  }
}

void Core::write_sized(uint64_t lin, unsigned size, uint64_t v) {
  switch (size) {
    case 1: write<1>(lin, v); break;
    case 2: write<2>(lin, v); break;
    case 4: write<4>(lin, v); break;
    default: write<8>(lin, v); break;
  }
}

void Core::read_bytes(uint64_t lin, void* dst, size_t n) {
  uint8_t* d = static_cast<uint8_t*>(dst);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(read<1>((lin + i) & m_lin_mask));
}

void Core::write_bytes(uint64_t lin, const void* src, size_t n) {
  // Probe every page first so that a fault leaves memory untouched.
  for (size_t i = 0; i < n; i += 4096 - ((lin + i) & 0xfff)) probe_write((lin + i) & m_lin_mask, 1);
  if (n) probe_write((lin + n - 1) & m_lin_mask, 1);
  const uint8_t* s8 = static_cast<const uint8_t*>(src);
  for (size_t i = 0; i < n; ++i) write<1>((lin + i) & m_lin_mask, s8[i]);
}

uint64_t Core::read_system(uint64_t lin, unsigned size) {
  lin &= m_lin_mask;
  if (long_mode() && !is_canonical(lin)) raise_gp0();
  const unsigned off = lin & 0xfff;
  if (off + size <= 4096) return phys_read(translate(lin, kAccessRead | kAccessImplicit), size);
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i)
    v |= phys_read(translate((lin + i) & m_lin_mask, kAccessRead | kAccessImplicit), 1) << (8 * i);
  return v;
}

void Core::write_system(uint64_t lin, unsigned size, uint64_t v) {
  write_system_frame(&lin, &v, 1, size);
}

// Every slot is translated (and may fault) before the first byte is written, so that a fault
// leaves memory as it was (SDM Vol. 3 §6.5: a fault restarts the instruction or delivery).
void Core::write_system_frame(const uint64_t* lin, const uint64_t* v, unsigned n, unsigned size) {
  constexpr unsigned kAccess = kAccessWrite | kAccessImplicit;
  uint64_t first[kMaxFrameSlots], second[kMaxFrameSlots];
  for (unsigned i = 0; i < n; ++i) {
    const uint64_t l = lin[i] & m_lin_mask;
    if (long_mode() && !is_canonical(l)) raise_gp0();
    first[i] = translate(l, kAccess);
    const unsigned off = l & 0xfff;
    second[i] = off + size <= 4096 ? ~0ull : translate((l + 4096 - off) & m_lin_mask, kAccess);
  }
  for (unsigned i = 0; i < n; ++i) {
    if (second[i] == ~0ull) {
      phys_write(first[i], size, v[i]);
      continue;
    }
    const unsigned in_first = 4096 - (first[i] & 0xfff);
    for (unsigned b = 0; b < size; ++b)
      phys_write(b < in_first ? first[i] + b : second[i] + (b - in_first), 1, (v[i] >> (8 * b)) & 0xff);
  }
}

// Segment limit and type checks for a data access outside 64-bit mode (SDM Vol. 3 §5.3, §5.4).
void Core::check_segment(unsigned seg, uint64_t ea, unsigned size, bool write) {
  if (seg >= kNumSegs) return;
  if (in_64bit_mode()) return;
  const Segment& sg = s.seg[seg];
  const bool prot = protected_mode() && !v86_mode();
  if (prot) {
    if (sg.ar & ar::kUnusable) raise_segment_fault(seg);
    const uint32_t type = sg.ar & ar::kTypeMask;
    if (type & ar::kCodeBit) {
      if (write || !(type & ar::kCodeReadable)) raise_segment_fault(seg);
    } else if (write && !(type & ar::kDataWritable)) {
      raise_segment_fault(seg);
    }
    if (!(type & ar::kCodeBit) && (type & ar::kDataExpandDown)) {
      const uint64_t upper = (sg.ar & ar::kDb) ? 0xffffffffull : 0xffffull;
      if (ea <= sg.limit || ea + size - 1 > upper) raise_segment_fault(seg);
      return;
    }
  }
  if (ea + size - 1 > sg.limit) raise_segment_fault(seg);
}

void Core::raise_segment_fault(unsigned seg) {
  if (seg == kSs) raise(kSsFault, 0);
  raise_gp0();
}

unsigned Core::stack_addr_size() const {
  if (in_64bit_mode()) return 8;
  return (s.seg[kSs].ar & ar::kDb) ? 4 : 2;
}

uint64_t Core::stack_pointer() const {
  switch (stack_addr_size()) {
    case 8: return s.gpr[kRsp];
    case 4: return s.gpr[kRsp] & 0xffffffff;
    default: return s.gpr[kRsp] & 0xffff;
  }
}

void Core::set_stack_pointer(uint64_t v) {
  switch (stack_addr_size()) {
    case 8: s.gpr[kRsp] = v; break;
    case 4: s.gpr[kRsp] = v & 0xffffffff; break;  // SS.B = 1: ESP, upper bits cleared
    default: s.gpr[kRsp] = (s.gpr[kRsp] & ~0xffffull) | (v & 0xffff); break;
  }
}

uint64_t Core::stack_mask() const {
  const unsigned as = stack_addr_size();
  return as == 8 ? ~0ull : as == 4 ? 0xffffffffull : 0xffffull;
}

uint64_t Core::stack_linear(uint64_t sp, unsigned size, bool write) {
  if (stack_addr_size() == 8) {
    if (!is_canonical(sp)) raise(kSsFault, 0);
    return sp;
  }
  return linear_seg(kSs, sp, size, write);
}

uint64_t Core::stack_read(uint64_t offset, unsigned size) {
  return read_sized(stack_linear((stack_pointer() + offset) & stack_mask(), size, false), size);
}

void Core::push(uint64_t v, unsigned size) {
  const unsigned as = stack_addr_size();
  const uint64_t mask = as == 8 ? ~0ull : as == 4 ? 0xffffffffull : 0xffffull;
  const uint64_t sp = (stack_pointer() - size) & mask;
  uint64_t lin;
  if (as == 8) {
    lin = sp;
    if (!is_canonical(lin)) raise(kSsFault, 0);
  } else {
    lin = linear_seg(kSs, sp, size, true);
  }
  write_sized(lin, size, v);
  set_stack_pointer(sp);
}

uint64_t Core::pop(unsigned size) {
  const unsigned as = stack_addr_size();
  const uint64_t mask = as == 8 ? ~0ull : as == 4 ? 0xffffffffull : 0xffffull;
  const uint64_t sp = stack_pointer();
  uint64_t lin;
  if (as == 8) {
    lin = sp;
    if (!is_canonical(lin)) raise(kSsFault, 0);
  } else {
    lin = linear_seg(kSs, sp, size, false);
  }
  const uint64_t v = read_sized(lin, size);
  set_stack_pointer((sp + size) & mask);
  return v;
}

}  // namespace vmxsim::cpu
