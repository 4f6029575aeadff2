/* Just enough of the MC146818 CMOS clock at ports 0x70/0x71 for Linux to read the time once:
 * without it the reads return all-ones, the update-in-progress bit looks stuck and the kernel
 * polls it for a second of guest time per read (mc146818_get_time), each poll an exit. */
#ifndef VMXSIM_CMOS_RTC_H
#define VMXSIM_CMOS_RTC_H

#include <stdint.h>

struct cmos_rtc {
    uint8_t index;
    uint8_t ram[128];
};

/* Sets the clock registers from the host's UTC time, in BCD, 24-hour mode. */
void cmos_init(struct cmos_rtc *c);
uint8_t cmos_read(struct cmos_rtc *c, uint16_t port);
void cmos_write(struct cmos_rtc *c, uint16_t port, uint8_t value);

#endif
