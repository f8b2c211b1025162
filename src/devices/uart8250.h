/* 16550A-compatible UART (the PC's COM1): what Linux's 8250 driver and
 * earlyprintk need. Output goes to a file descriptor; input arrives from the
 * VMM's console thread through uart8250_input. */
#ifndef RINGVM_DEVICES_UART8250_H
#define RINGVM_DEVICES_UART8250_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/irq.h"
#include "state/state.h"
#include "util/err.h"

struct uart8250;

/* out_fd: where transmitted bytes go (-1: discarded); log_fd: a second copy
 * (-1: none). Neither is closed by the UART. Writes to them happen on
 * threads of their own (util/out_queue.h): the guest never waits on them
 * for more than a moment, and a reader that stopped loses bytes. */
struct uart8250 *uart8250_new(struct irq_line irq, int out_fd, int log_fd);
/* Frees; output still queued gets a short while to be written. */
void uart8250_free(struct uart8250 *u);
/* Waits up to timeout_ms for queued output to be written (0), else -1. */
int uart8250_flush(struct uart8250 *u, int timeout_ms);

/* io_bus callback for the 8 registers at the UART's base port. */
void uart8250_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
		 bool is_write);

/* Queues received bytes; returns how many fit in the receive FIFO (the rest
 * should be offered again later, after uart8250_rx_space grows). */
size_t uart8250_input(struct uart8250 *u, const uint8_t *buf, size_t n);
size_t uart8250_rx_space(struct uart8250 *u);

/* Snapshot: registers and the receive FIFO, as section `name`. */
void uart8250_save(struct uart8250 *u, struct state_writer *w,
		   const char *name);
int uart8250_load(struct uart8250 *u, const struct state_reader *r,
		  const char *name, struct rv_err *err);

#endif
