/* The calibration kernels as a Linux process: 4 KiB pages (transparent huge pages off for the
 * arena), output on stdout. Usage: calib_native [FILTER] [REPEATS]. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "calib_env.h"

void *calib_arena(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, bytes, MADV_NOHUGEPAGE);
    return p;
}

void calib_print(const char *line)
{
    puts(line);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    return calib_run(argc > 1 ? argv[1] : "", argc > 2 ? (unsigned)atoi(argv[2]) : 5);
}
