// The core's translation contexts and their invalidation: which fast TLB the memory path reads,
// and what MOV to CR3/CR4, INVLPG, INVPCID, VM entries and exits, INVVPID and INVEPT drop from
// it, from the block cache's linear-RIP front and from the timing model's TLBs (SDM Vol. 3A
// §4.10.1-§4.10.4, Vol. 3C §29.1-§29.4).
//
// Tags: a VMX context (host, or the guest with its VPID and EPTP) picks a TlbContext; the PCID
// picks a slot of it. Translations the fast TLB may keep are those of the current PCID and
// global ones, so dropping a PCID's slot, or entries of several PCIDs, is always allowed.
// The front cache holds translations of the current PCID only: it is emptied whenever the slot
// changes.
#include "cpu/core.h"
#include "cpu/timing/timing_model.h"

namespace vmxsim::cpu {

void Core::select_fast_tlb() {
  PcidSlot& sl = *m_ctx->cur;
  m_tlb = VMXSIM_UNLIKELY(m_align_check) ? &m_tlb_none : m_cpl == 3 ? &sl.user : &sl.sup;
}

void Core::select_pcid() {
  const uint16_t pcid = current_pcid();
  TlbContext& c = *m_ctx;
  if (c.cur->pcid != pcid) {
    PcidSlot* want = c.find(pcid);
    if (!want) {
      want = &c.slot[0];
      for (PcidSlot& sl : c.slot)
        if (sl.last_used < want->last_used) want = &sl;
      want->sup.flush(true);
      want->user.flush(true);
      want->pcid = pcid;
    }
    c.cur = want;
    m_blocks.flush_front();  // its lines were translated under the previous PCID
    select_fast_tlb();
  }
  c.cur->last_used = ++m_pcid_clock;
  if (m_timing) m_timing->switch_pcid(pcid);
}

void Core::flush_tlb(bool include_global) {
  for (PcidSlot& sl : m_ctx->slot) {
    sl.sup.flush(include_global);
    sl.user.flush(include_global);
  }
  m_blocks.flush_front();
  if (m_timing) m_timing->flush_tlb(include_global);
  select_pcid();
}

void Core::flush_tlb_pcid(uint16_t pcid) {
  if (PcidSlot* sl = m_ctx->find(pcid)) {
    sl->sup.flush(false);
    sl->user.flush(false);
  }
  m_blocks.flush_front();
  if (m_timing) m_timing->flush_tlb_pcid(pcid);
}

void Core::flush_tlb_page(uint64_t lin) {
  // Another PCID's slot may hold its own copy of a global translation of the page: it goes
  // too, with that PCID's non-global one (more than needed, which the SDM allows).
  for (PcidSlot& sl : m_ctx->slot) {
    sl.sup.flush_page(lin);
    sl.user.flush_page(lin);
  }
  m_blocks.flush_front();
  if (m_timing) m_timing->flush_tlb_page(lin);
}

void Core::flush_tlb_pcid_page(uint16_t pcid, uint64_t lin) {
  if (PcidSlot* sl = m_ctx->find(pcid)) {
    sl->sup.flush_page(lin);
    sl->user.flush_page(lin);
  }
  m_blocks.flush_front();
  if (m_timing) m_timing->flush_tlb_pcid_page(pcid, lin);
}

void Core::switch_tlb_context(unsigned ctx, uint64_t tag) {
  TlbContext* want = &m_tlb_ctx[ctx & 1];
  if (ctx == 1 && tag != m_guest_ctx_tag) {
    for (PcidSlot& sl : want->slot) {
      sl.sup.flush(true);
      sl.user.flush(true);
    }
    m_blocks.flush_front(1);
    m_guest_ctx_tag = tag;
  }
  m_ctx = want;
  m_blocks.select_front(ctx & 1);  // the RIP front cache is per context: keyed by linear address
  // The timing TLB keeps several contexts apart by tag (cpu/timing/address_space_ids.h): the
  // host's and each guest's stay, as they would in a processor's VPID-tagged TLB. Within a
  // context, VM entry and exit keep every PCID's translations; the CR3 just loaded picks one.
  if (m_timing) m_timing->switch_tlb_context(ctx == 1 ? tag : 0, current_pcid());
  select_pcid();
  mode_changed();
}

void Core::flush_guest_tlb_context() {
  for (PcidSlot& sl : m_tlb_ctx[1].slot) {
    sl.sup.flush(true);
    sl.user.flush(true);
  }
  m_guest_ctx_tag = ~0ull;
  m_blocks.flush_front(1);
  if (m_timing) {
    m_timing->flush_guest_tlb_contexts();
    // A reset puts the core back in the host's context without switch_tlb_context.
    if (m_ctx == &m_tlb_ctx[0]) m_timing->switch_tlb_context(0, current_pcid());
  }
}

void Core::on_page_writes_tracked(uint64_t phys_page) {
  for (TlbContext& t : m_tlb_ctx) {
    for (PcidSlot& sl : t.slot) {
      sl.sup.protect_code_page(phys_page);
      sl.user.protect_code_page(phys_page);
    }
  }
}

void Core::drop_fast_tlb_page_everywhere(uint64_t lin) {
  for (TlbContext& t : m_tlb_ctx) {
    for (PcidSlot& sl : t.slot) {
      sl.sup.flush_page(lin);
      sl.user.flush_page(lin);
    }
  }
}

}  // namespace vmxsim::cpu
