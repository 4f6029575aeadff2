/* A guest that never exits: an endless loop. vmxsim stops it only through --max-insns or
 * --max-cycles (exit status 6). */
#include "runtime.h"

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    puts("spin: looping forever");
    for (;;)
        asm volatile("pause");
    return 0;
}
