/* A guest that halts with interrupts enabled but every source masked: both 8259s masked while the
 * PIT keeps ticking (as firmware left it), no LAPIC timer. Simulated time goes on, nothing wakes
 * the core, no instruction retires: only --max-cycles can end this run (status 6). */
#include "runtime.h"

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    puts("halt_masked: mask both 8259s; sti; hlt");
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    for (;;)
        asm volatile("sti; hlt");
    return 1;
}
