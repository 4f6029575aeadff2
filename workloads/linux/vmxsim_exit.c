/* vmxsim_exit CODE: ends the machine through the debug-exit port 0xf4 (a 32-bit OUT of CODE;
 * vmxsim, l1_launch and QEMU's isa-debug-exit then exit with status (CODE << 1) | 1, or CODE
 * for l1_launch). Where no such device exists the write goes nowhere and we are still
 * running after a moment: exit status 1 tells /init to power off instead. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: vmxsim_exit CODE\n");
        return 2;
    }
    unsigned code = (unsigned)strtoul(argv[1], NULL, 0);
    if (ioperm(0xf4, 4, 1) != 0) {
        perror("vmxsim_exit: ioperm");
        return 1;
    }
    fflush(NULL);
    outl(code, 0xf4);
    /* A simulator may finish its time quantum first; give it time to stop us. */
    usleep(200 * 1000);
    return 1;
}
