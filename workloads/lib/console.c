/* COM1 output, printf, exit. */
#include "runtime.h"

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

/* A lock shared by all CPUs so lines do not interleave. If the holder was
 * interrupted on this CPU (an exception while printing), give up waiting
 * after a while rather than deadlock. */
static volatile uint32_t print_lock;

static void lock_print(void)
{
    for (uint64_t spins = 0; spins < 50000000; spins++) {
        if (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE) == 0)
            return;
        pause();
    }
}
static void unlock_print(void) { __atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE); }

void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* IER: no interrupts */
    outb(COM1 + 3, 0x80); /* LCR: DLAB */
    outb(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0xc7); /* FIFO on, clear */
    outb(COM1 + 4, 0x03); /* DTR | RTS */
}

void serial_putc(char c)
{
    /* Wait for THR empty (LSR bit 5); bounded so a missing UART cannot hang us. */
    for (int i = 0; i < 1000000 && !(inb(COM1 + 5) & 0x20); i++)
        pause();
    outb(COM1, (uint8_t)c);
}

static void serial_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        serial_putc(s[i]);
}

void puts(const char *s)
{
    lock_print();
    serial_write(s, strlen(s));
    serial_putc('\n');
    unlock_print();
}

/* ---- formatting ---- */
struct out {
    char *buf;  /* NULL: write to the serial port */
    size_t cap; /* bytes available in buf including the NUL */
    size_t len; /* total produced */
};

static void emit(struct out *o, char c)
{
    if (o->buf) {
        if (o->len + 1 < o->cap)
            o->buf[o->len] = c;
    } else {
        serial_putc(c);
    }
    o->len++;
}

static void emit_padded(struct out *o, const char *s, size_t n, int width, bool left, char pad,
                        const char *prefix)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    int padn = width > (int)(n + plen) ? width - (int)(n + plen) : 0;
    if (!left && pad == ' ')
        while (padn-- > 0)
            emit(o, ' ');
    for (size_t i = 0; i < plen; i++)
        emit(o, prefix[i]);
    if (!left && pad == '0')
        while (padn-- > 0)
            emit(o, '0');
    for (size_t i = 0; i < n; i++)
        emit(o, s[i]);
    if (left)
        while (padn-- > 0)
            emit(o, ' ');
}

static int format(struct out *o, const char *fmt, va_list ap)
{
    char tmp[32];
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(o, *fmt);
            continue;
        }
        fmt++;
        bool left = false, alt = false, plus = false;
        char pad = ' ';
        for (;; fmt++) {
            if (*fmt == '-')
                left = true;
            else if (*fmt == '0')
                pad = '0';
            else if (*fmt == '#')
                alt = true;
            else if (*fmt == '+')
                plus = true;
            else
                break;
        }
        int width = 0;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = true;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        int prec = -1;
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
            }
        }
        int lng = 0; /* 0 int, 1 long, 2 long long, -1 short, -2 char */
        for (;; fmt++) {
            if (*fmt == 'l')
                lng++;
            else if (*fmt == 'h')
                lng--;
            else if (*fmt == 'z' || *fmt == 'j' || *fmt == 't')
                lng = 1;
            else
                break;
        }
        if (left)
            pad = ' ';
        char c = *fmt;
        if (!c)
            break;
        switch (c) {
        case 'c': {
            tmp[0] = (char)va_arg(ap, int);
            emit_padded(o, tmp, 1, width, left, ' ', NULL);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = strlen(s);
            if (prec >= 0 && (size_t)prec < n)
                n = prec;
            emit_padded(o, s, n, width, left, ' ', NULL);
            break;
        }
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o':
        case 'p': {
            uint64_t v;
            bool neg = false;
            unsigned base = 10;
            const char *digits = "0123456789abcdef";
            const char *prefix = NULL;
            if (c == 'p') {
                v = (uint64_t)(uintptr_t)va_arg(ap, void *);
                base = 16;
                prefix = "0x";
            } else if (c == 'd' || c == 'i') {
                int64_t s;
                if (lng >= 1)
                    s = lng >= 2 ? va_arg(ap, long long) : va_arg(ap, long);
                else
                    s = va_arg(ap, int);
                if (lng == -1)
                    s = (short)s;
                else if (lng <= -2)
                    s = (signed char)s;
                neg = s < 0;
                v = neg ? -(uint64_t)s : (uint64_t)s;
                prefix = neg ? "-" : plus ? "+" : NULL;
            } else {
                if (lng >= 1)
                    v = lng >= 2 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned long);
                else
                    v = va_arg(ap, unsigned int);
                if (lng == -1)
                    v = (uint16_t)v;
                else if (lng <= -2)
                    v = (uint8_t)v;
                if (c == 'x' || c == 'X') {
                    base = 16;
                    if (c == 'X')
                        digits = "0123456789ABCDEF";
                    if (alt && v)
                        prefix = c == 'x' ? "0x" : "0X";
                } else if (c == 'o') {
                    base = 8;
                    if (alt && v)
                        prefix = "0";
                }
            }
            int n = 0;
            do {
                tmp[sizeof(tmp) - 1 - n++] = digits[v % base];
                v /= base;
            } while (v);
            while (prec > n && n < (int)sizeof(tmp))
                tmp[sizeof(tmp) - 1 - n++] = '0';
            emit_padded(o, tmp + sizeof(tmp) - n, n, width, left, pad, prefix);
            break;
        }
        case '%':
            emit(o, '%');
            break;
        default:
            emit(o, '%');
            emit(o, c);
            break;
        }
    }
    return (int)o->len;
}

int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
    struct out o = {buf, n, 0};
    format(&o, fmt, ap);
    if (buf && n)
        buf[o.len < n ? o.len : n - 1] = 0;
    return (int)o.len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

int vprintf(const char *fmt, va_list ap)
{
    struct out o = {NULL, 0, 0};
    lock_print();
    format(&o, fmt, ap);
    unlock_print();
    return (int)o.len;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vprintf(fmt, ap);
    va_end(ap);
    return r;
}

/* ---- exit ---- */
void exit(int code)
{
    outl(DEBUG_EXIT_PORT, (uint32_t)code);
    for (;;)
        asm volatile("cli; hlt");
}

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL: panic: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    exit(EXIT_UNHANDLED);
}
