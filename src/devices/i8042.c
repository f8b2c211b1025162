/* i8042 commands (IBM PC/AT technical reference, "Keyboard controller"):
 * a command byte goes to port 0x64; some take a data byte on port 0x60.
 * Linux's reboot=k path (arch/x86/kernel/reboot.c) waits for the input
 * buffer to drain (status bit 1), then writes 0xFE to 0x64. */
#include "devices/i8042.h"

#include <stdatomic.h>

#define STATUS_OBF 0x01  /* output buffer full: a byte waits at 0x60 */
#define STATUS_IBF 0x02  /* input buffer full: controller still busy */
#define STATUS_SYS 0x04  /* system flag: POST passed */

#define CMD_WRITE_CTR     0x60  /* write controller configuration byte */
#define CMD_WRITE_OUTPUT  0xd1  /* write output port */
#define CMD_WRITE_KBD_OUT 0xd2  /* write keyboard output buffer */
#define CMD_WRITE_AUX_OUT 0xd3  /* write aux output buffer */
#define CMD_WRITE_AUX     0xd4  /* write to aux device */
/* 0xF0-0xFF pulse the output port lines whose bits are 0 in the low nibble;
 * bit 0 is the CPU reset line, so 0xFE is "pulse reset". */
#define CMD_PULSE_BASE    0xf0
#define OUTPUT_RESET_N    0x01  /* output port bit 0: reset, active low */

void i8042_init(struct i8042 *k, struct vm_ctl ctl)
{
	k->ctl = ctl;
	k->pending_cmd = 0;
}

static bool takes_data(uint8_t cmd)
{
	return cmd == CMD_WRITE_CTR || cmd == CMD_WRITE_OUTPUT ||
	       cmd == CMD_WRITE_KBD_OUT || cmd == CMD_WRITE_AUX_OUT ||
	       cmd == CMD_WRITE_AUX;
}

static void command(struct i8042 *k, uint8_t cmd)
{
	if ((cmd & 0xf0) == CMD_PULSE_BASE) {
		k->pending_cmd = 0;
		if (!(cmd & OUTPUT_RESET_N))
			vm_ctl_request(&k->ctl, VM_REQ_REBOOT);
		return;
	}
	/* Everything else (self test 0xAA, port enables, reads) is ignored:
	 * with no PS/2 devices and no ACPI PNP entry, Linux never probes. */
	k->pending_cmd = takes_data(cmd) ? cmd : 0;
}

static void data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = atomic_exchange(&k->pending_cmd, 0);

	/* Writing the output port with the reset bit low resets the CPU. */
	if (cmd == CMD_WRITE_OUTPUT && !(v & OUTPUT_RESET_N))
		vm_ctl_request(&k->ctl, VM_REQ_REBOOT);
	/* Other data bytes (keyboard commands, CTR) are dropped. */
}

static void fill(uint8_t *d, uint32_t len, uint8_t v)
{
	for (uint32_t i = 0; i < len; i++)
		d[i] = v;
}

/* One byte-wide port: a write of the first byte goes to on_write, a read
 * returns read_val; other offsets read as a floating bus (0xff). */
static void port_io(void *dev, uint64_t offset, uint8_t *d, uint32_t len,
		    bool is_write, void (*on_write)(struct i8042 *, uint8_t),
		    uint8_t read_val)
{
	struct i8042 *k = dev;

	if (!k || !d || !len)
		return;
	if (offset != 0) {
		if (!is_write)
			fill(d, len, 0xff);
		return;
	}
	if (is_write)
		on_write(k, d[0]);
	else
		fill(d, len, read_val);
}

void i8042_data_io(void *dev, uint64_t offset, uint8_t *d, uint32_t len,
		   bool is_write)
{
	/* No keyboard: the output buffer is always empty. */
	port_io(dev, offset, d, len, is_write, data, 0);
}

void i8042_cmd_io(void *dev, uint64_t offset, uint8_t *d, uint32_t len,
		  bool is_write)
{
	/* Status: never busy, never any data. */
	port_io(dev, offset, d, len, is_write, command, STATUS_SYS);
}
