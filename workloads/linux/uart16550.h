/* A minimal 16550A UART for l1_launch's guest console (COM1): what Linux's 8250 driver
 * probes and uses, with transmitted bytes going to a host fd and received bytes coming from
 * uart_receive(). Thread-safe: the vCPU thread does the port I/O, an input thread receives. */
#ifndef VMXSIM_UART16550_H
#define VMXSIM_UART16550_H

#include <pthread.h>
#include <stdint.h>

enum { kUartRxSize = 256, kUartTxSize = 4096 };

struct uart16550 {
    pthread_mutex_t lock;
    /* The interrupt line changed level; called with the lock held. */
    void (*set_irq)(void *ctx, int level);
    void *irq_ctx;
    int out_fd;
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
    int thr_interrupt;  /* THR-empty interrupt pending (cleared by reading IIR or THR write) */
    int irq_level;
    uint8_t rx[kUartRxSize];
    unsigned rx_head, rx_count;
    char tx[kUartTxSize];
    unsigned tx_len;
};

void uart_init(struct uart16550 *u, int out_fd, void (*set_irq)(void *, int), void *irq_ctx);
/* Port access at offset 0-7 from the base (0x3f8 for COM1). */
uint8_t uart_read(struct uart16550 *u, unsigned offset);
void uart_write(struct uart16550 *u, unsigned offset, uint8_t value);
/* Queues received bytes; returns how many fitted. */
unsigned uart_receive(struct uart16550 *u, const uint8_t *data, unsigned len);
void uart_flush(struct uart16550 *u);

#endif
