/* What the calibration kernels need from where they run: a user-mode Linux process
 * (native_env.c) or a vmxsim bare-metal workload (vmxsim_env.c). Everything else — the kernels,
 * their data layouts and iteration counts — is the one shared source, calib.c. */
#ifndef CALIB_ENV_H
#define CALIB_ENV_H

#include <stddef.h>
#include <stdint.h>

/* A zeroed arena of `bytes` mapped with 4 KiB pages (TLB behaviour must match). */
void *calib_arena(size_t bytes);
/* The time-stamp counter, ordered after earlier instructions (LFENCE; RDTSC). */
static inline uint64_t calib_tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}
/* Prints one line of output. */
void calib_print(const char *line);
/* Runs the benchmarks whose names contain `filter` (empty: all), best of `repeats`. */
int calib_run(const char *filter, unsigned repeats);

#endif
