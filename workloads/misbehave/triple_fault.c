/* A guest that triple-faults on purpose: with an empty IDT every exception becomes #GP, then
 * #DF, then a shutdown. vmxsim must report it and exit with status 4, never crash. */
#include "runtime.h"

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    struct { unsigned short limit; unsigned long base; } __attribute__((packed)) idtr = {0, 0};
    puts("triple_fault: loading an empty IDT and raising #BP");
    asm volatile("lidt %0; int3" : : "m"(idtr));
    puts("FAIL: still running after the triple fault");
    return 1;
}
