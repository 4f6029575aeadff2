/* 16550A register model (see uart16550.h). Register names and bits as in Linux's
 * include/uapi/linux/serial_reg.h and the National Semiconductor PC16550D data sheet. */
#include "uart16550.h"

#include <string.h>
#include <unistd.h>

enum {
    kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7,
    kIerRdi = 0x01, kIerThri = 0x02,
    kIirNoInt = 0x01, kIirThri = 0x02, kIirRdi = 0x04, kIirFifos = 0xc0,
    kFcrEnable = 0x01, kFcrClearRx = 0x02,
    kLcrDlab = 0x80,
    kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10,
    kLsrDr = 0x01, kLsrThre = 0x20, kLsrTemt = 0x40,
    kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80,
};

void uart_init(struct uart16550 *u, int out_fd, void (*set_irq)(void *, int), void *irq_ctx)
{
    memset(u, 0, sizeof(*u));
    pthread_mutex_init(&u->lock, NULL);
    u->out_fd = out_fd;
    u->set_irq = set_irq;
    u->irq_ctx = irq_ctx;
}

static void flush_locked(struct uart16550 *u)
{
    unsigned done = 0;
    while (done < u->tx_len) {
        ssize_t n = write(u->out_fd, u->tx + done, u->tx_len - done);
        if (n <= 0)
            break; /* a closed console must not stop the guest */
        done += (unsigned)n;
    }
    u->tx_len = 0;
}

void uart_flush(struct uart16550 *u)
{
    pthread_mutex_lock(&u->lock);
    flush_locked(u);
    pthread_mutex_unlock(&u->lock);
}

static uint8_t iir(const struct uart16550 *u)
{
    uint8_t fifos = (u->fcr & kFcrEnable) ? kIirFifos : 0;
    if ((u->ier & kIerRdi) && u->rx_count)
        return fifos | kIirRdi;
    if ((u->ier & kIerThri) && u->thr_interrupt)
        return fifos | kIirThri;
    return fifos | kIirNoInt;
}

/* On a PC the UART's interrupt reaches the PIC only while MCR.OUT2 is set. */
static void update_irq(struct uart16550 *u)
{
    int level = !(iir(u) & kIirNoInt) && (u->mcr & kMcrOut2);
    if (level != u->irq_level) {
        u->irq_level = level;
        u->set_irq(u->irq_ctx, level);
    }
}

static void push_rx(struct uart16550 *u, uint8_t byte)
{
    if (u->rx_count < kUartRxSize) {
        u->rx[(u->rx_head + u->rx_count) % kUartRxSize] = byte;
        u->rx_count++;
    }
}

static void transmit(struct uart16550 *u, uint8_t byte)
{
    if (u->mcr & kMcrLoop) {
        push_rx(u, byte);
    } else {
        u->tx[u->tx_len++] = (char)byte;
        if (byte == '\n' || u->tx_len == kUartTxSize)
            flush_locked(u);
    }
    /* The byte leaves at once, so the holding register is empty again. */
    u->thr_interrupt = 1;
}

uint8_t uart_read(struct uart16550 *u, unsigned offset)
{
    pthread_mutex_lock(&u->lock);
    uint8_t v = 0;
    switch (offset) {
    case kRbrThr:
        if (u->lcr & kLcrDlab) {
            v = u->dll;
        } else if (u->rx_count) {
            v = u->rx[u->rx_head];
            u->rx_head = (u->rx_head + 1) % kUartRxSize;
            u->rx_count--;
        }
        break;
    case kIer:
        v = (u->lcr & kLcrDlab) ? u->dlm : u->ier;
        break;
    case kIirFcr:
        v = iir(u);
        if ((v & 0x0f) == kIirThri)
            u->thr_interrupt = 0; /* reading IIR acknowledges THR empty (PC16550D table 4) */
        break;
    case kLcr:
        v = u->lcr;
        break;
    case kMcr:
        v = u->mcr;
        break;
    case kLsr:
        v = kLsrThre | kLsrTemt | (u->rx_count ? kLsrDr : 0);
        break;
    case kMsr:
        if (u->mcr & kMcrLoop) /* loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
            v = (uint8_t)(((u->mcr & kMcrDtr) ? kMsrDsr : 0) | ((u->mcr & kMcrRts) ? kMsrCts : 0) |
                          ((u->mcr & kMcrOut1) ? kMsrRi : 0) | ((u->mcr & kMcrOut2) ? kMsrDcd : 0));
        else
            v = kMsrDcd | kMsrDsr | kMsrCts;
        break;
    case kScr:
        v = u->scr;
        break;
    }
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return v;
}

void uart_write(struct uart16550 *u, unsigned offset, uint8_t value)
{
    pthread_mutex_lock(&u->lock);
    switch (offset) {
    case kRbrThr:
        if (u->lcr & kLcrDlab)
            u->dll = value;
        else
            transmit(u, value);
        break;
    case kIer:
        if (u->lcr & kLcrDlab) {
            u->dlm = value;
        } else {
            /* Enabling the THR-empty interrupt while the THR is empty raises it at once. */
            if ((value & kIerThri) && !(u->ier & kIerThri))
                u->thr_interrupt = 1;
            u->ier = value & 0x0f;
            /* Linux's 8250 driver rewrites IER at the end of each burst of output. */
            flush_locked(u);
        }
        break;
    case kIirFcr:
        u->fcr = value;
        if (value & kFcrClearRx)
            u->rx_count = 0;
        break;
    case kLcr:
        u->lcr = value;
        break;
    case kMcr:
        u->mcr = value & 0x1f;
        break;
    case kScr:
        u->scr = value;
        break;
    }
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
}

unsigned uart_receive(struct uart16550 *u, const uint8_t *data, unsigned len)
{
    pthread_mutex_lock(&u->lock);
    unsigned n = 0;
    while (n < len && u->rx_count < kUartRxSize)
        push_rx(u, data[n++]);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return n;
}
