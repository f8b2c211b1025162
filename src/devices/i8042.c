/* i8042 commands (IBM PC/AT technical reference, "Keyboard controller"):
 * a command byte goes to port 0x64; some take a data byte on port 0x60,
 * and a data byte written without one goes to the keyboard. What Linux
 * sends is in drivers/input/serio/i8042.c (probe), libps2.c and
 * drivers/input/keyboard/atkbd.c (atkbd_probe, atkbd_activate). */
#include "devices/i8042.h"

#include <string.h>

#define STATUS_OBF      0x01  /* output buffer full: a byte waits at 0x60 */
#define STATUS_SYS      0x04  /* system flag, a copy of CTR_SYS */
#define STATUS_UNLOCKED 0x10  /* keyboard not inhibited by the key lock */

/* Controller command byte (CTR). */
#define CTR_KBDINT   0x01
#define CTR_AUXINT   0x02
#define CTR_SYS      0x04
#define CTR_KBDDIS   0x10
#define CTR_AUXDIS   0x20
#define CTR_XLATE    0x40     /* translate the keyboard's set 2 to set 1 */
#define CTR_RESERVED 0x80
/* What a BIOS leaves: translation on, the keyboard off until a driver
 * turns it on (so Ctrl-Alt-Del is refused until then), no AUX port. */
#define CTR_POWER_ON (CTR_XLATE | CTR_AUXDIS | CTR_KBDDIS | CTR_SYS)

#define CMD_READ_CTR      0x20
#define CMD_WRITE_CTR     0x60
#define CMD_AUX_DISABLE   0xa7
#define CMD_AUX_ENABLE    0xa8
#define CMD_AUX_TEST      0xa9
#define CMD_SELF_TEST     0xaa
#define CMD_KBD_TEST      0xab
#define CMD_KBD_DISABLE   0xad
#define CMD_KBD_ENABLE    0xae
#define CMD_READ_OUTPUT   0xd0
#define CMD_WRITE_OUTPUT  0xd1
#define CMD_WRITE_KBD_OUT 0xd2  /* write keyboard output buffer */
#define CMD_WRITE_AUX_OUT 0xd3  /* write aux output buffer (loopback) */
#define CMD_WRITE_AUX     0xd4  /* write to aux device */
/* 0xF0-0xFF pulse the output port lines whose bits are 0 in the low nibble;
 * bit 0 is the CPU reset line, so 0xFE is "pulse reset". */
#define CMD_PULSE_BASE    0xf0

#define SELF_TEST_OK      0x55
#define KBD_TEST_OK       0x00
/* Interface test codes: 1-4 name a stuck line. An AUX port that is not
 * there fails with "clock line stuck low". */
#define AUX_TEST_NO_PORT  0x01

#define OUTPUT_RESET_N    0x01  /* output port bit 0: reset, active low */
#define OUTPUT_A20        0x02

/* Keyboard commands and replies (the PS/2 keyboard's; atkbd.c names). */
#define KBD_SET_LEDS      0xed
#define KBD_ECHO          0xee
#define KBD_SCAN_SET      0xf0
#define KBD_GET_ID        0xf2
#define KBD_TYPEMATIC     0xf3
#define KBD_ENABLE        0xf4
#define KBD_RESET_DISABLE 0xf5
#define KBD_RESET_ENABLE  0xf6
#define KBD_RESET         0xff
#define KBD_ACK           0xfa
#define KBD_RESEND        0xfe
#define KBD_BAT_OK        0xaa
#define KBD_ID0           0xab  /* an MF2 keyboard: 0xAB 0x83 */
#define KBD_ID1           0x83
#define KBD_BREAK         0xf0  /* set 2/3 break prefix */
#define KBD_TYPEMATIC_DEF 0x2b  /* 10.9 characters/s after 500 ms */

/* The 8042's set 2 to set 1 translation, bytes 0x00-0x7f; above them only
 * 0x83 and 0x84 change. Everything from the keyboard passes through it,
 * replies too (so the ID reads 0xAB 0x41 and set 2 reads 0x41). */
static const uint8_t xlate_lo[128] = {
	0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58,
	0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
	0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a,
	0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
	0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c,
	0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
	0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e,
	0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
	0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60,
	0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
	0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e,
	0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
	0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b,
	0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
	0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45,
	0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

static uint8_t xlate(uint8_t b)
{
	if (b < 0x80)
		return xlate_lo[b];
	if (b == 0x83)
		return 0x41;
	if (b == 0x84)
		return 0x54;
	return b;
}

/* No AUX port: its disable bit always reads 1 and its interrupt bit 0,
 * and bit 7 does not exist. */
static uint8_t ctr_fix(uint8_t v)
{
	return (uint8_t)((v | CTR_AUXDIS) & ~(CTR_AUXINT | CTR_RESERVED));
}

static void kbd_defaults(struct i8042 *k)
{
	k->scan_set = 2;
	k->typematic = KBD_TYPEMATIC_DEF;
}

/* The guest-visible state at power on (k zeroed). */
static void power_on(struct i8042 *k)
{
	k->ctr = CTR_POWER_ON;
	k->outp = OUTPUT_RESET_N | OUTPUT_A20;
	kbd_defaults(k);
}

void i8042_init(struct i8042 *k, struct vm_ctl ctl)
{
	memset(k, 0, sizeof(*k));
	k->ctl = ctl;
	pthread_mutex_init(&k->lock, NULL);
	power_on(k);
}

void i8042_set_irq(struct i8042 *k, struct irq_line kbd_irq)
{
	pthread_mutex_lock(&k->lock);
	k->irq = kbd_irq;
	pthread_mutex_unlock(&k->lock);
}

/* ---- output ---- */

/* Keyboard bytes wait while the guest has the keyboard port disabled. */
static bool kbd_visible(const struct i8042 *k)
{
	return k->q_len && !(k->ctr & CTR_KBDDIS);
}

static bool output_full(const struct i8042 *k)
{
	return k->ctl_full || kbd_visible(k);
}

static bool irq_wanted(const struct i8042 *k)
{
	return output_full(k) && (k->ctr & CTR_KBDINT);
}

/* Called with the lock held, after every change, so that level changes
 * reach the interrupt controller in the order the state changed. */
static void update_irq(struct i8042 *k)
{
	bool level = irq_wanted(k);

	if (level != k->irq_level) {
		k->irq_level = level;
		irq_line_set(&k->irq, level);
	}
}

static void ctl_answer(struct i8042 *k, uint8_t v)
{
	k->ctl_full = true;
	k->ctl_byte = v;
}

/* The keyboard sends n bytes (its own set), translated on the way if the
 * CTR says so. All or nothing: a reply or keystroke cut in half would
 * desynchronise the driver, so a full queue drops the whole thing. */
static bool kbd_send(struct i8042 *k, const uint8_t *b, size_t n)
{
	uint8_t out[I8042_QUEUE_CAP];
	size_t m = 0;
	bool brk = false;

	if (n > sizeof(out))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!(k->ctr & CTR_XLATE)) {
			out[m++] = b[i];
		} else if (b[i] == KBD_BREAK) {
			brk = true;     /* set 1 marks a break in the code */
		} else {
			out[m++] = (uint8_t)(xlate(b[i]) | (brk ? 0x80 : 0));
			brk = false;
		}
	}
	if (m > (size_t)(I8042_QUEUE_CAP - k->q_len))
		return false;
	for (size_t i = 0; i < m; i++) {
		k->q[(k->q_head + k->q_len) % I8042_QUEUE_CAP] = out[i];
		k->q_len++;
	}
	return true;
}

static void kbd_send1(struct i8042 *k, uint8_t v)
{
	kbd_send(k, &v, 1);
}

/* A read of port 0x60 takes the byte; with more waiting the line drops and
 * rises again, the edge an edge-triggered IRQ 1 needs for the next one. */
static uint8_t read_data(struct i8042 *k)
{
	if (k->ctl_full) {
		k->ctl_full = false;
		k->last = k->ctl_byte;
	} else if (kbd_visible(k)) {
		k->last = k->q[k->q_head];
		k->q_head = (uint8_t)((k->q_head + 1) % I8042_QUEUE_CAP);
		k->q_len--;
	} else {
		return k->last;         /* the buffer keeps its last byte */
	}
	if (k->irq_level) {
		k->irq_level = false;
		irq_line_set(&k->irq, false);
	}
	return k->last;
}

static uint8_t status(const struct i8042 *k)
{
	uint8_t s = STATUS_UNLOCKED;

	if (output_full(k))
		s |= STATUS_OBF;
	if (k->ctr & CTR_SYS)
		s |= STATUS_SYS;
	return s;   /* input buffer never full: we take each byte at once */
}

/* ---- keyboard ---- */

static void kbd_param(struct i8042 *k, uint8_t cmd, uint8_t v)
{
	switch (cmd) {
	case KBD_SET_LEDS:
		k->leds = v & 0x07;
		kbd_send1(k, KBD_ACK);
		break;
	case KBD_TYPEMATIC:
		k->typematic = v & 0x7f;
		kbd_send1(k, KBD_ACK);
		break;
	case KBD_SCAN_SET:
		if (v == 0) {
			kbd_send(k, (const uint8_t[]){ KBD_ACK, k->scan_set },
				 2);
		} else if (v <= 3) {
			k->scan_set = v;
			kbd_send1(k, KBD_ACK);
		} else {
			k->kbd_cmd = cmd;       /* still waiting for a set */
			kbd_send1(k, KBD_RESEND);
		}
		break;
	}
}

static void kbd_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->kbd_cmd;

	if (cmd) {
		k->kbd_cmd = 0;
		kbd_param(k, cmd, v);
		return;
	}
	switch (v) {
	case KBD_SET_LEDS:
	case KBD_SCAN_SET:
	case KBD_TYPEMATIC:
		k->kbd_cmd = v;
		kbd_send1(k, KBD_ACK);
		break;
	case KBD_ECHO:
		kbd_send1(k, KBD_ECHO);
		break;
	case KBD_GET_ID:
		kbd_send(k, (const uint8_t[]){ KBD_ACK, KBD_ID0, KBD_ID1 }, 3);
		break;
	case KBD_ENABLE:
		k->scanning = true;
		kbd_send1(k, KBD_ACK);
		break;
	case KBD_RESET_DISABLE:
	case KBD_RESET_ENABLE:
		kbd_defaults(k);
		k->scanning = v == KBD_RESET_ENABLE;
		kbd_send1(k, KBD_ACK);
		break;
	case KBD_RESET:
		kbd_defaults(k);
		k->leds = 0;
		k->scanning = true;
		kbd_send(k, (const uint8_t[]){ KBD_ACK, KBD_BAT_OK }, 2);
		break;
	default:
		kbd_send1(k, KBD_RESEND);
		break;
	}
}

/* ---- controller ---- */

static bool takes_data(uint8_t cmd)
{
	return cmd == CMD_WRITE_CTR || cmd == CMD_WRITE_OUTPUT ||
	       cmd == CMD_WRITE_KBD_OUT || cmd == CMD_WRITE_AUX_OUT ||
	       cmd == CMD_WRITE_AUX;
}

/* Returns true if the command pulses the CPU reset line. */
static bool command(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;
	if ((cmd & 0xf0) == CMD_PULSE_BASE)
		return !(cmd & OUTPUT_RESET_N);
	switch (cmd) {
	case CMD_READ_CTR:
		ctl_answer(k, k->ctr);
		break;
	case CMD_AUX_DISABLE:
	case CMD_AUX_ENABLE:
		break;          /* no AUX port: it stays disabled */
	case CMD_AUX_TEST:
		ctl_answer(k, AUX_TEST_NO_PORT);
		break;
	case CMD_SELF_TEST:
		k->ctr |= CTR_SYS;
		ctl_answer(k, SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
		ctl_answer(k, KBD_TEST_OK);
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_READ_OUTPUT:
		ctl_answer(k, k->outp);
		break;
	default:
		/* The rest (RAM reads, version, input port) go unanswered,
		 * as on controllers that lack them. */
		if (takes_data(cmd))
			k->pending_cmd = cmd;
		break;
	}
	return false;
}

/* Returns true if the byte pulls the CPU reset line. */
static bool data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = ctr_fix(v);
		break;
	case CMD_WRITE_OUTPUT:
		/* Bit 0 low resets the CPU; the line does not stay low. */
		k->outp = v | OUTPUT_RESET_N;
		return !(v & OUTPUT_RESET_N);
	case CMD_WRITE_KBD_OUT:
		ctl_answer(k, v);       /* reads as if the keyboard sent it */
		break;
	case CMD_WRITE_AUX_OUT:
		/* With no AUX port the looped byte comes back without the
		 * AUX status bit: Linux's i8042_check_aux() then takes the
		 * port as absent at once (its 0xA9 test answers 0x01). */
		ctl_answer(k, v);
		break;
	case CMD_WRITE_AUX:
		break;                  /* no AUX device to take it */
	default:
		kbd_write(k, v);
		break;
	}
	return false;
}

/* ---- port I/O ---- */

static void fill(uint8_t *d, uint32_t len, uint8_t v)
{
	for (uint32_t i = 0; i < len; i++)
		d[i] = v;
}

/* One byte-wide port: a write uses the first byte, a read fills every byte;
 * other offsets read as a floating bus (0xff). */
static void port_io(struct i8042 *k, uint64_t offset, uint8_t *d,
		    uint32_t len, bool is_write, bool data_port)
{
	bool reset = false;

	if (!k || !d || !len)
		return;
	if (offset != 0) {
		if (!is_write)
			fill(d, len, 0xff);
		return;
	}
	pthread_mutex_lock(&k->lock);
	if (is_write)
		reset = data_port ? data(k, d[0]) : command(k, d[0]);
	else
		fill(d, len, data_port ? read_data(k) : status(k));
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		vm_ctl_request(&k->ctl, VM_REQ_REBOOT, "i8042 reset line");
}

void i8042_data_io(void *dev, uint64_t offset, uint8_t *d, uint32_t len,
		   bool is_write)
{
	port_io(dev, offset, d, len, is_write, true);
}

void i8042_cmd_io(void *dev, uint64_t offset, uint8_t *d, uint32_t len,
		  bool is_write)
{
	port_io(dev, offset, d, len, is_write, false);
}

/* ---- Ctrl-Alt-Del ---- */

/* Left Ctrl, Left Alt, Delete pressed, then released in reverse order. */
static const uint8_t cad_set1[] = {
	0x1d, 0x38, 0xe0, 0x53,  0xe0, 0xd3, 0xb8, 0x9d,
};
static const uint8_t cad_set2[] = {
	0x14, 0x11, 0xe0, 0x71,  0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14,
};
static const uint8_t cad_set3[] = {
	0x11, 0x19, 0x64,  0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11,
};

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	int rc = -1;

	pthread_mutex_lock(&k->lock);
	/* Enabled by its driver: scanning, port on, interrupts on. */
	if (k->scanning && !(k->ctr & CTR_KBDDIS) && (k->ctr & CTR_KBDINT)) {
		bool ok;

		if (k->scan_set == 1)
			ok = kbd_send(k, cad_set1, sizeof(cad_set1));
		else if (k->scan_set == 3)
			ok = kbd_send(k, cad_set3, sizeof(cad_set3));
		else
			ok = kbd_send(k, cad_set2, sizeof(cad_set2));
		rc = ok ? 0 : -1;
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return rc;
}

/* ---- snapshot ---- */

/* 1: the pending command only (before the keyboard); 2: everything. */
#define I8042_SECTION_VERSION 2

void i8042_save(struct i8042 *k, struct state_writer *w)
{
	pthread_mutex_lock(&k->lock);
	state_begin(w, "i8042", I8042_SECTION_VERSION);
	state_put_u8(w, k->ctr);
	state_put_u8(w, k->outp);
	state_put_u8(w, k->pending_cmd);
	state_put_bool(w, k->ctl_full);
	state_put_u8(w, k->ctl_byte);
	state_put_u8(w, k->last);
	state_put_u8(w, k->kbd_cmd);
	state_put_bool(w, k->scanning);
	state_put_u8(w, k->scan_set);
	state_put_u8(w, k->leds);
	state_put_u8(w, k->typematic);
	state_put_u8(w, k->q_len);
	for (unsigned int i = 0; i < k->q_len; i++)
		state_put_u8(w, k->q[(k->q_head + i) % I8042_QUEUE_CAP]);
	state_end(w);
	pthread_mutex_unlock(&k->lock);
}

static void load_v2(struct state_cursor *c, struct i8042 *s)
{
	s->ctr = state_get_u8(c);
	if (s->ctr != ctr_fix(s->ctr))
		state_cursor_reject(c, "command byte enables the AUX port");
	s->outp = state_get_u8(c);
	if (!(s->outp & OUTPUT_RESET_N))
		state_cursor_reject(c, "output port holds the CPU in reset");
	s->pending_cmd = state_get_u8(c);
	if (s->pending_cmd && !takes_data(s->pending_cmd))
		state_cursor_reject(c, "pending command takes no data");
	s->ctl_full = state_get_bool(c);
	s->ctl_byte = state_get_u8(c);
	s->last = state_get_u8(c);
	s->kbd_cmd = state_get_u8(c);
	if (s->kbd_cmd && s->kbd_cmd != KBD_SET_LEDS &&
	    s->kbd_cmd != KBD_SCAN_SET && s->kbd_cmd != KBD_TYPEMATIC)
		state_cursor_reject(c, "keyboard command takes no data");
	s->scanning = state_get_bool(c);
	s->scan_set = state_get_u8(c);
	if (s->scan_set < 1 || s->scan_set > 3)
		state_cursor_reject(c, "scan code set is not 1, 2 or 3");
	s->leds = state_get_u8(c);
	if (s->leds > 0x07)
		state_cursor_reject(c, "LED state has undefined bits");
	s->typematic = state_get_u8(c);
	if (s->typematic > 0x7f)
		state_cursor_reject(c, "typematic byte has bit 7 set");
	s->q_len = state_get_u8(c);
	if (s->q_len > I8042_QUEUE_CAP) {
		state_cursor_reject(c, "keyboard queue holds more than it can");
		s->q_len = 0;
	}
	state_get_bytes(c, s->q, s->q_len);
	s->q_head = 0;
}

int i8042_load(struct i8042 *k, const struct state_reader *r,
	       struct rv_err *err)
{
	struct state_cursor c;
	struct i8042 s;
	uint32_t version;

	if (state_section(r, "i8042", I8042_SECTION_VERSION, &c, &version,
			  err) < 0)
		return -1;
	/* Decoded into a scratch copy: a refused state changes nothing. */
	memset(&s, 0, sizeof(s));
	power_on(&s);
	if (version >= 2) {
		load_v2(&c, &s);
	} else {
		/* A guest that never saw a keyboard: it stays powered on. */
		s.pending_cmd = state_get_u8(&c);
		if (s.pending_cmd && !takes_data(s.pending_cmd))
			state_cursor_reject(&c,
					    "pending command takes no data");
	}
	if (state_cursor_finish(&c, err) < 0)
		return -1;

	pthread_mutex_lock(&k->lock);
	k->ctr = s.ctr;
	k->outp = s.outp;
	k->pending_cmd = s.pending_cmd;
	k->ctl_full = s.ctl_full;
	k->ctl_byte = s.ctl_byte;
	k->last = s.last;
	k->kbd_cmd = s.kbd_cmd;
	k->scanning = s.scanning;
	k->scan_set = s.scan_set;
	k->leds = s.leds;
	k->typematic = s.typematic;
	memcpy(k->q, s.q, sizeof(k->q));
	k->q_head = 0;
	k->q_len = s.q_len;
	/* The interrupt controller's restored state already holds this
	 * level; the line itself is not touched. */
	k->irq_level = irq_wanted(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
