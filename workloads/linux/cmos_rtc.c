/* MC146818 CMOS clock registers (see cmos_rtc.h; register numbers from Linux's
 * include/linux/mc146818rtc.h). The clock does not tick: Linux reads it once at boot and
 * keeps time with its own clocksource. */
#include "cmos_rtc.h"

#include <string.h>
#include <time.h>

enum {
    kRtcSeconds = 0x00, kRtcMinutes = 0x02, kRtcHours = 0x04, kRtcDayOfWeek = 0x06,
    kRtcDayOfMonth = 0x07, kRtcMonth = 0x08, kRtcYear = 0x09,
    kRtcRegA = 0x0a, kRtcRegB = 0x0b, kRtcRegC = 0x0c, kRtcRegD = 0x0d, kRtcCentury = 0x32,
    kRegA32kHz = 0x20,   /* divider running, no update in progress (UIP = bit 7 clear) */
    kRegB24h = 0x02,     /* 24-hour, BCD, no interrupts */
    kRegDValid = 0x80,   /* valid RAM and time */
};

static uint8_t bcd(int v) { return (uint8_t)((v / 10) << 4 | (v % 10)); }

void cmos_init(struct cmos_rtc *c)
{
    memset(c, 0, sizeof(*c));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    c->ram[kRtcSeconds] = bcd(tm.tm_sec);
    c->ram[kRtcMinutes] = bcd(tm.tm_min);
    c->ram[kRtcHours] = bcd(tm.tm_hour);
    c->ram[kRtcDayOfWeek] = bcd(tm.tm_wday + 1);
    c->ram[kRtcDayOfMonth] = bcd(tm.tm_mday);
    c->ram[kRtcMonth] = bcd(tm.tm_mon + 1);
    c->ram[kRtcYear] = bcd(tm.tm_year % 100);
    c->ram[kRtcCentury] = bcd(19 + tm.tm_year / 100);
    c->ram[kRtcRegA] = kRegA32kHz;
    c->ram[kRtcRegB] = kRegB24h;
    c->ram[kRtcRegC] = 0;
    c->ram[kRtcRegD] = kRegDValid;
}

uint8_t cmos_read(struct cmos_rtc *c, uint16_t port)
{
    if (port == 0x70)
        return 0xff; /* the index register is write-only */
    return c->ram[c->index];
}

void cmos_write(struct cmos_rtc *c, uint16_t port, uint8_t value)
{
    if (port == 0x70) {
        c->index = value & 0x7f; /* bit 7 is the NMI mask */
        return;
    }
    /* Registers A-D stay as set up: no alarms, no periodic interrupts, no clock setting. */
    if (c->index > kRtcRegD)
        c->ram[c->index] = value;
}
