/* The PC's i8042 keyboard controller with a PS/2 keyboard on its first
 * port: enough for Linux's i8042 and atkbd drivers to find and set up the
 * keyboard, so the VMM can type Ctrl-Alt-Del into the guest (Firecracker's
 * SendCtrlAltDel). There is no AUX (mouse) port. The reset line stays as it
 * always was: the 0xFE "pulse reset" command and an output-port write with
 * bit 0 clear, which is how `reboot=k` resets a PC.
 *
 * Output: the controller's own answers (one byte, as in the chip: a newer
 * answer replaces an unread one) are read first at port 0x60, then the
 * keyboard's bytes, which wait in a bounded queue. IRQ 1 is high while a
 * byte waits and the command byte's keyboard interrupt bit is set; each
 * byte read drops it, the next raises it again, so every byte is an edge. */
#ifndef RINGVM_DEVICES_I8042_H
#define RINGVM_DEVICES_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus/irq.h"
#include "bus/vm_ctl.h"
#include "state/state.h"
#include "util/err.h"

/* A real keyboard buffers 16 bytes; Ctrl-Alt-Del takes at most 11. */
#define I8042_QUEUE_CAP 16

struct i8042 {
	struct vm_ctl ctl;
	struct irq_line irq;
	/* vCPU threads (port I/O) and the control API (Ctrl-Alt-Del). */
	pthread_mutex_t lock;
	bool irq_level;

	/* controller */
	uint8_t ctr;            /* command byte (configuration) */
	uint8_t outp;           /* output port */
	uint8_t pending_cmd;    /* command waiting for its data byte, or 0 */
	bool ctl_full;          /* an answer of the controller waits */
	uint8_t ctl_byte;
	uint8_t last;           /* what port 0x60 reads when nothing waits */

	/* keyboard */
	uint8_t kbd_cmd;        /* command waiting for its data byte, or 0 */
	bool scanning;          /* sends keystrokes (0xF4 on, 0xF5 off) */
	uint8_t scan_set;       /* 1..3 */
	uint8_t leds;
	uint8_t typematic;
	/* As the driver reads them: already translated if the command byte
	 * asked for set-1 translation. */
	uint8_t q[I8042_QUEUE_CAP];
	uint8_t q_head, q_len;
};

/* Power-on state: no IRQ line until i8042_set_irq. */
void i8042_init(struct i8042 *k, struct vm_ctl ctl);
void i8042_set_irq(struct i8042 *k, struct irq_line kbd_irq);

/* io_bus callbacks: the data port 0x60 and the command/status port 0x64,
 * each registered with length 1. */
void i8042_data_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
		   bool is_write);
void i8042_cmd_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write);

/* Presses Left Ctrl, Left Alt and Delete and releases them in reverse
 * order, in the scan code set the guest's driver chose. Any thread.
 * Returns 0, or -1 if the guest has not enabled the keyboard (no driver
 * yet, or it disabled it) or has left earlier keystrokes unread. */
int i8042_send_ctrl_alt_del(struct i8042 *k);

/* Snapshot: section "i8042". */
void i8042_save(struct i8042 *k, struct state_writer *w);
int i8042_load(struct i8042 *k, const struct state_reader *r,
	       struct rv_err *err);

#endif
