/* A guest that waits in MWAIT with interrupts disabled on a line nobody writes: only a store by
 * another agent could wake it and there is none, so vmxsim ends the run with status 8 instead of
 * hanging. */
#include "runtime.h"

static volatile uint32_t never_written __attribute__((aligned(64)));

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    puts("mwait_forever: cli; monitor; mwait");
    asm volatile("cli");
    monitor(&never_written);
    mwait(0, 0);
    puts("FAIL: woke up");
    return 1;
}
