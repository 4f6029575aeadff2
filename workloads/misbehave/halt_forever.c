/* A guest that halts with interrupts disabled: nothing can wake it, so vmxsim ends the run with
 * status 8 instead of hanging. */
#include "runtime.h"

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    puts("halt_forever: cli; hlt");
    asm volatile("cli; hlt");
    puts("FAIL: woke up");
    return 1;
}
