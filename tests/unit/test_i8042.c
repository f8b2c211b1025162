/* The i8042 and its PS/2 keyboard as Linux drives them: the probe of
 * drivers/input/serio/i8042.c, atkbd's set-up through libps2, Ctrl-Alt-Del
 * in each scan code set, IRQ 1, the two ways a PC guest resets itself
 * through the controller, hostile guests and the snapshot section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "devices/i8042.h"

#define ST_OBF    0x01
#define ST_IBF    0x02
#define ST_SYS    0x04
#define ST_UNLOCK 0x10
#define ST_AUX    0x20

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40

#define ACK 0xfa

#define KBD_GSI 1

struct ctl_rec {
	unsigned int reboot;
	unsigned int poweroff;
};

static void rec_request(void *ctx, enum vm_request req, const char *why)
{
	struct ctl_rec *r = ctx;

	assert_string_equal(why, "i8042 reset line");
	if (req == VM_REQ_REBOOT)
		r->reboot++;
	else
		r->poweroff++;
}

/* A device with its reset line and IRQ 1 recorded. */
struct rig {
	struct i8042 k;
	struct ctl_rec r;
	bool level;             /* IRQ 1 as the interrupt controller sees it */
	unsigned int rises;     /* rising edges: interrupts of an edge IOAPIC */
	unsigned int taken;     /* of which the "handler" took a byte */
	unsigned int redundant; /* set to the level it already had */
	unsigned int bad_gsi;
};

static void rec_irq(void *ctx, unsigned int gsi, bool level)
{
	struct rig *g = ctx;

	if (gsi != KBD_GSI)
		g->bad_gsi++;
	if (level == g->level)
		g->redundant++;
	if (level && !g->level)
		g->rises++;
	g->level = level;
}

static void init(struct i8042 *k, struct ctl_rec *r)
{
	memset(r, 0, sizeof(*r));
	i8042_init(k, (struct vm_ctl){ .request = rec_request, .ctx = r });
}

static void rig_init(struct rig *g)
{
	memset(g, 0, sizeof(*g));
	init(&g->k, &g->r);
	i8042_set_irq(&g->k, (struct irq_line){ .set_level = rec_irq,
						.ctx = g, .gsi = KBD_GSI });
}

static void cmd(struct i8042 *k, uint8_t v)
{
	i8042_cmd_io(k, 0, &v, 1, true);
}

static void dat(struct i8042 *k, uint8_t v)
{
	i8042_data_io(k, 0, &v, 1, true);
}

static uint8_t status(struct i8042 *k)
{
	uint8_t v = 0xaa;

	i8042_cmd_io(k, 0, &v, 1, false);
	return v;
}

static uint8_t rd(struct i8042 *k)
{
	uint8_t v = 0xaa;

	i8042_data_io(k, 0, &v, 1, false);
	return v;
}

/* ---- Linux's side, function by function ---- */

/* __i8042_command with no parameter and no result. */
static void ctl_cmd(struct rig *g, uint8_t c)
{
	assert_false(status(&g->k) & ST_IBF);      /* i8042_wait_write */
	cmd(&g->k, c);
}

/* ... with one parameter byte. */
static void ctl_cmd_w(struct rig *g, uint8_t c, uint8_t param)
{
	ctl_cmd(g, c);
	assert_false(status(&g->k) & ST_IBF);
	dat(&g->k, param);
}

/* ... with one result byte: i8042_wait_read must not time out. */
static uint8_t ctl_cmd_r(struct rig *g, uint8_t c)
{
	ctl_cmd(g, c);
	assert_true(status(&g->k) & ST_OBF);
	assert_false(status(&g->k) & ST_AUX);
	return rd(&g->k);
}

/* i8042_flush: reads while OBF, gives up (no controller) after 16. */
static unsigned int flush(struct rig *g)
{
	unsigned int n = 0;

	while (status(&g->k) & ST_OBF) {
		rd(&g->k);
		assert_true(++n <= 16);
	}
	return n;
}

/* i8042_interrupt: runs once per edge and takes one byte. */
static uint8_t take(struct rig *g)
{
	assert_true(g->level);
	assert_int_equal(g->rises, g->taken + 1);
	g->taken++;
	assert_true(status(&g->k) & ST_OBF);
	assert_false(status(&g->k) & ST_AUX);
	return rd(&g->k);
}

/* A byte to the keyboard (i8042_kbd_write) and the bytes it answers,
 * each delivered by its own interrupt (libps2's ps2_command). */
static void kbd(struct rig *g, uint8_t byte, const uint8_t *want, size_t n)
{
	assert_false(status(&g->k) & ST_OBF);
	dat(&g->k, byte);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(take(g), want[i]);
	assert_false(status(&g->k) & ST_OBF);
	assert_false(g->level);
}

static void kbd_ack(struct rig *g, uint8_t byte)
{
	kbd(g, byte, (const uint8_t[]){ ACK }, 1);
}

/* i8042_check_aux, run when PNP did not already say "no AUX port". */
static void linux_check_aux(struct rig *g)
{
	uint8_t param;

	assert_int_equal(flush(g), 0);
	/* I8042_CMD_AUX_LOOP (0x11d3) with 0x5a: the answer is there at once
	 * but not flagged as AUX data, so __i8042_command fails ("auxerr")
	 * without reading it and without a timeout. */
	ctl_cmd_w(g, 0xd3, 0x5a);
	assert_true(status(&g->k) & ST_OBF);
	assert_false(status(&g->k) & ST_AUX);
	/* I8042_CMD_AUX_TEST (0x01a9): an error code, neither 0 nor 0xfa nor
	 * 0xff, so i8042_check_aux returns -1: no AUX port. */
	param = ctl_cmd_r(g, 0xa9);
	assert_int_equal(param, 0x01);
	/* The loop byte was replaced, not left behind. */
	assert_int_equal(flush(g), 0);
}

/* i8042_platform_init, i8042_controller_check, _selftest, _init,
 * [i8042_check_aux], i8042_enable_kbd_port. Returns the CTR it set. */
static uint8_t linux_i8042_probe(struct rig *g, bool direct, bool nopnp)
{
	uint8_t ctr, again;

	/* A20 through the output port, then the null command for SMM
	 * firmware (0xff): neither pulls the reset line. */
	ctl_cmd_w(g, 0xd1, 0xdf);
	ctl_cmd(g, 0xff);
	assert_int_equal(g->r.reboot, 0);
	assert_int_equal(flush(g), 0);
	assert_int_equal(ctl_cmd_r(g, 0xaa), 0x55);
	/* Two equal reads of the CTR; the BIOS-like value translates. */
	ctr = ctl_cmd_r(g, 0x20);
	again = ctl_cmd_r(g, 0x20);
	assert_int_equal(ctr, again);
	assert_true(ctr & CTR_XLATE);
	assert_true(ctr & CTR_AUXDIS);
	assert_true(status(&g->k) & ST_UNLOCK);   /* no "Keylock active" */
	assert_true(status(&g->k) & ST_SYS);
	ctr = (uint8_t)((ctr | CTR_KBDDIS) & ~CTR_KBDINT);
	if (direct)
		ctr &= (uint8_t)~CTR_XLATE;
	ctl_cmd_w(g, 0x60, ctr);
	assert_int_equal(flush(g), 0);
	if (nopnp)
		linux_check_aux(g);
	/* So far the keyboard interrupt was off: no edge at all. */
	assert_int_equal(g->rises, 0);
	ctr = (uint8_t)((ctr & ~CTR_KBDDIS) | CTR_KBDINT);
	ctl_cmd_w(g, 0x60, ctr);
	assert_int_equal(g->rises, 0);
	return ctr;
}

/* atkbd_probe, atkbd_select_set (sends nothing for set 2),
 * atkbd_reset_state and atkbd_activate. */
static void linux_atkbd_probe(struct rig *g, bool translated)
{
	/* GETID: ACK, 0xAB, 0x83, which the controller translates to 0x41
	 * (atkbd's id 0xab41, "AT Translated Set 2 keyboard"). */
	kbd(g, 0xf2, (const uint8_t[]){ ACK, 0xab, translated ? 0x41 : 0x83 },
	    3);
	assert_int_equal(i8042_send_ctrl_alt_del(&g->k), -1);
	kbd_ack(g, 0xf5);               /* atkbd_deactivate */
	kbd_ack(g, 0xed);               /* LEDs off */
	kbd_ack(g, 0x00);
	kbd_ack(g, 0xf3);               /* fastest repeat */
	kbd_ack(g, 0x00);
	assert_int_equal(i8042_send_ctrl_alt_del(&g->k), -1);
	kbd_ack(g, 0xf4);               /* atkbd_activate */
}

static void expect_cad(struct rig *g, const uint8_t *want, size_t n)
{
	assert_int_equal(i8042_send_ctrl_alt_del(&g->k), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(take(g), want[i]);
	assert_false(status(&g->k) & ST_OBF);
	assert_false(g->level);
}

/* Left Ctrl, Left Alt, Delete down, then up in reverse order. */
static const uint8_t cad_set1[] = {
	0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d,
};
static const uint8_t cad_set2[] = {
	0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14,
};
static const uint8_t cad_set3[] = {
	0x11, 0x19, 0x64, 0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11,
};

/* ---- reset line ---- */

static void test_status(void **state)
{
	struct i8042 k;
	struct ctl_rec r;

	(void)state;
	init(&k, &r);
	/* Input buffer empty (bit 1) so kb_wait() returns at once, output
	 * buffer empty (bit 0) so i8042_flush() ends, system flag (bit 2),
	 * key lock off (bit 4). */
	assert_int_equal(status(&k), ST_SYS | ST_UNLOCK);
	/* A controller answer fills the output buffer until it is read. */
	cmd(&k, 0xaa);
	assert_int_equal(status(&k), ST_OBF | ST_SYS | ST_UNLOCK);
	assert_int_equal(rd(&k), 0x55);
	assert_int_equal(status(&k), ST_SYS | ST_UNLOCK);
	/* Reading an empty buffer gives its last byte again. */
	assert_int_equal(rd(&k), 0x55);
	/* The system flag follows the CTR. */
	cmd(&k, 0x60);
	dat(&k, 0x00);
	assert_int_equal(status(&k), ST_UNLOCK);
	assert_int_equal(r.reboot + r.poweroff, 0);
}

static void test_pulse_reset(void **state)
{
	struct i8042 k;
	struct ctl_rec r;

	(void)state;
	init(&k, &r);
	/* Linux's reboot=k: kb_wait(), then 0xFE to port 0x64. */
	assert_int_equal(status(&k) & 0x02, 0);
	cmd(&k, 0xfe);
	assert_int_equal(r.reboot, 1);
	assert_int_equal(r.poweroff, 0);
	/* Any pulse command with bit 0 clear pulses reset; bit 0 set not. */
	cmd(&k, 0xf0);
	assert_int_equal(r.reboot, 2);
	cmd(&k, 0xff);
	cmd(&k, 0xf1);
	cmd(&k, 0xfd);
	assert_int_equal(r.reboot, 2);
}

static void test_output_port_reset(void **state)
{
	struct i8042 k;
	struct ctl_rec r;

	(void)state;
	init(&k, &r);
	/* 0xD1 then a data byte with bit 0 (reset, active low) clear. */
	cmd(&k, 0xd1);
	assert_int_equal(r.reboot, 0);
	dat(&k, 0xfe);
	assert_int_equal(r.reboot, 1);
	/* Bit 0 set (A20 toggling, the classic use): no reset. */
	cmd(&k, 0xd1);
	dat(&k, 0xdf);
	cmd(&k, 0xd1);
	dat(&k, 0x03);
	assert_int_equal(r.reboot, 1);
	/* 0xD0 reads the output port back. */
	cmd(&k, 0xd0);
	assert_int_equal(rd(&k), 0x03);
	/* The same byte without 0xD1 first goes to the keyboard. */
	dat(&k, 0xfe);
	dat(&k, 0x00);
	assert_int_equal(r.reboot, 1);
	/* The data byte belongs to the latest command only. */
	cmd(&k, 0xd1);
	cmd(&k, 0x60);          /* write CTR: takes the next byte */
	dat(&k, 0x00);
	assert_int_equal(r.reboot, 1);
	cmd(&k, 0xd1);
	cmd(&k, 0xaa);          /* self test: takes no data */
	dat(&k, 0x00);
	assert_int_equal(r.reboot, 1);
	/* One data byte per command. */
	cmd(&k, 0xd1);
	dat(&k, 0x01);
	dat(&k, 0x00);
	assert_int_equal(r.reboot, 1);
}

static void test_other_commands_never_reset(void **state)
{
	struct i8042 k;
	struct ctl_rec r;

	(void)state;
	init(&k, &r);
	for (unsigned int c = 0; c < 0xf0; c++) {
		cmd(&k, (uint8_t)c);
		/* A data byte that would be a reset for 0xD1 only. */
		if (c != 0xd1)
			dat(&k, 0x00);
		else
			dat(&k, 0x01);
	}
	assert_int_equal(r.reboot, 0);
	assert_int_equal(r.poweroff, 0);
}

static void test_hostile_access(void **state)
{
	struct i8042 k;
	struct ctl_rec r;
	uint8_t buf[16];
	struct i8042 nop;

	(void)state;
	init(&k, &r);
	/* Wide reads fill every byte; out-of-range offsets read all ones. */
	memset(buf, 0xcc, sizeof(buf));
	i8042_cmd_io(&k, 0, buf, 4, false);
	assert_int_equal(buf[0], status(&k));
	assert_int_equal(buf[4], 0xcc);
	memset(buf, 0xcc, sizeof(buf));
	i8042_data_io(&k, 0, buf, 8, false);
	for (int i = 0; i < 8; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[8], 0xcc);
	memset(buf, 0, sizeof(buf));
	i8042_cmd_io(&k, 3, buf, 2, false);
	assert_int_equal(buf[0], 0xff);
	assert_int_equal(buf[1], 0xff);
	/* Writes elsewhere or empty do nothing. */
	buf[0] = 0xfe;
	i8042_cmd_io(&k, 1, buf, 1, true);
	i8042_cmd_io(&k, 0, buf, 0, true);
	i8042_cmd_io(&k, 0, NULL, 1, true);
	i8042_cmd_io(NULL, 0, buf, 1, true);
	i8042_data_io(NULL, 0, buf, 1, false);
	assert_int_equal(r.reboot, 0);
	/* A 2-byte write: the low byte is the command. */
	buf[0] = 0xfe;
	buf[1] = 0x00;
	i8042_cmd_io(&k, 0, buf, 2, true);
	assert_int_equal(r.reboot, 1);
	/* No control callback and no IRQ line: requests and edges are
	 * dropped, not crashed on. */
	i8042_init(&nop, (struct vm_ctl){ 0 });
	cmd(&nop, 0xfe);
	cmd(&nop, 0xd1);
	dat(&nop, 0x00);
	cmd(&nop, 0x60);
	dat(&nop, 0x41);
	dat(&nop, 0xf4);
	assert_int_equal(rd(&nop), ACK);
	assert_int_equal(i8042_send_ctrl_alt_del(&nop), 0);
}

/* ---- the keyboard as Linux finds it ---- */

static void test_linux_probe_translated(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g);
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), -1);
	linux_i8042_probe(&g, false, false);
	linux_atkbd_probe(&g, true);
	/* The input core then sets LEDs and the repeat rate again. */
	kbd_ack(&g, 0xed);
	kbd_ack(&g, 0x02);
	kbd_ack(&g, 0xf3);
	kbd_ack(&g, 0x2b);
	/* Translation on: set-1 codes, the break code of Delete
	 * included (E0 F0 71 becomes E0 D3). */
	expect_cad(&g, cad_set1, sizeof(cad_set1));
	expect_cad(&g, cad_set1, sizeof(cad_set1));
	assert_int_equal(g.r.reboot, 0);
	assert_int_equal(g.redundant, 0);
	assert_int_equal(g.bad_gsi, 0);
}

static void test_linux_probe_no_aux(void **state)
{
	struct rig g;
	uint8_t ctr;

	(void)state;
	rig_init(&g);
	/* i8042.nopnp: the driver looks for the AUX port itself. */
	ctr = linux_i8042_probe(&g, false, true);
	/* The AUX port cannot be turned on: i8042_toggle_aux(1) would fail
	 * too, and AUX interrupts stay off whatever the CTR write said. */
	cmd(&g.k, 0xa8);
	cmd(&g.k, 0x60);
	dat(&g.k, (uint8_t)((ctr & ~CTR_AUXDIS) | CTR_AUXINT));
	cmd(&g.k, 0x20);
	assert_int_equal(take(&g), ctr);
	/* Bytes for an AUX device go nowhere. */
	cmd(&g.k, 0xd4);
	dat(&g.k, 0xff);
	assert_false(status(&g.k) & ST_OBF);
	linux_atkbd_probe(&g, true);
	expect_cad(&g, cad_set1, sizeof(cad_set1));
	assert_int_equal(g.redundant, 0);
}

static void test_linux_probe_direct(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g);
	/* i8042.direct: no translation, atkbd stays on set 2. */
	linux_i8042_probe(&g, true, false);
	linux_atkbd_probe(&g, false);
	expect_cad(&g, cad_set2, sizeof(cad_set2));
	assert_int_equal(g.redundant, 0);
}

static void test_scan_sets(void **state)
{
	struct rig g;

	(void)state;
	rig_init(&g);
	linux_i8042_probe(&g, true, false);
	linux_atkbd_probe(&g, false);
	/* ATKBD_CMD_GSCANSET: the current set. */
	kbd_ack(&g, 0xf0);
	kbd(&g, 0x00, (const uint8_t[]){ ACK, 2 }, 2);
	/* Set 1 untranslated, set 3. */
	kbd_ack(&g, 0xf0);
	kbd_ack(&g, 0x01);
	expect_cad(&g, cad_set1, sizeof(cad_set1));
	kbd_ack(&g, 0xf0);
	kbd_ack(&g, 0x03);
	kbd_ack(&g, 0xf0);
	kbd(&g, 0x00, (const uint8_t[]){ ACK, 3 }, 2);
	expect_cad(&g, cad_set3, sizeof(cad_set3));
	/* No set 4: resend, and the keyboard still waits for a set. */
	kbd_ack(&g, 0xf0);
	kbd(&g, 0x04, (const uint8_t[]){ 0xfe }, 1);
	kbd_ack(&g, 0x02);
	expect_cad(&g, cad_set2, sizeof(cad_set2));
	/* Translated, the set number passes the translation too. */
	cmd(&g.k, 0x60);
	dat(&g.k, CTR_XLATE | CTR_KBDINT);
	kbd_ack(&g, 0xf0);
	kbd(&g, 0x00, (const uint8_t[]){ ACK, 0x41 }, 2);
	/* Echo, unknown commands, reset (back to set 2, scanning). */
	kbd(&g, 0xee, (const uint8_t[]){ 0xee }, 1);
	kbd(&g, 0x00, (const uint8_t[]){ 0xfe }, 1);
	kbd(&g, 0xe8, (const uint8_t[]){ 0xfe }, 1);
	kbd_ack(&g, 0xf5);
	kbd_ack(&g, 0xf0);
	kbd_ack(&g, 0x01);
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), -1);
	kbd(&g, 0xff, (const uint8_t[]){ ACK, 0xaa }, 2);
	expect_cad(&g, cad_set1, sizeof(cad_set1));     /* set 2, translated */
	kbd_ack(&g, 0xf5);
	kbd_ack(&g, 0xf6);                              /* defaults, enabled */
	expect_cad(&g, cad_set1, sizeof(cad_set1));
	assert_int_equal(g.redundant, 0);
}

static void test_cad_refused_until_enabled(void **state)
{
	struct rig g;
	uint8_t ctr;

	(void)state;
	rig_init(&g);
	/* Power on: the firmware left the keyboard off. */
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), -1);
	ctr = linux_i8042_probe(&g, false, false);
	/* Port and interrupt on, but atkbd has not enabled scanning. */
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), -1);
	linux_atkbd_probe(&g, true);
	/* Interrupt off (i8042_controller_reset at shutdown): refused. */
	cmd(&g.k, 0x60);
	dat(&g.k, (uint8_t)(ctr & ~CTR_KBDINT));
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), -1);
	cmd(&g.k, 0x60);
	dat(&g.k, ctr);
	/* Port disabled with 0xAD: refused; 0xAE: accepted again. */
	cmd(&g.k, 0xad);
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), -1);
	cmd(&g.k, 0xae);
	/* Keyboard disabled with 0xF5 (atkbd_deactivate): refused. */
	kbd_ack(&g, 0xf5);
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), -1);
	assert_false(status(&g.k) & ST_OBF);
	assert_int_equal(g.rises, g.taken);
	kbd_ack(&g, 0xf4);
	expect_cad(&g, cad_set1, sizeof(cad_set1));
}

static void test_port_disable_holds_keyboard_bytes(void **state)
{
	struct rig g;
	unsigned int rises;

	(void)state;
	rig_init(&g);
	linux_i8042_probe(&g, false, false);
	linux_atkbd_probe(&g, true);
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), 0);
	assert_int_equal(take(&g), cad_set1[0]);
	/* Disabled: the keyboard's bytes wait, the line drops, but the
	 * controller still answers. */
	cmd(&g.k, 0xad);
	assert_false(g.level);
	assert_false(status(&g.k) & ST_OBF);
	g.taken = g.rises;              /* that interrupt finds no data */
	rises = g.rises;
	cmd(&g.k, 0x20);
	assert_int_equal(g.rises, rises + 1);   /* answers raise IRQ 1 too */
	assert_true(take(&g) & CTR_KBDDIS);
	assert_false(status(&g.k) & ST_OBF);
	/* Enabled again: the rest of the keystrokes, edge by edge. */
	cmd(&g.k, 0xae);
	for (size_t i = 1; i < sizeof(cad_set1); i++)
		assert_int_equal(take(&g), cad_set1[i]);
	assert_false(g.level);
	assert_int_equal(g.redundant, 0);
}

static void test_queue_bounded(void **state)
{
	struct rig g;
	unsigned int n = 0, rises;

	(void)state;
	rig_init(&g);
	linux_i8042_probe(&g, false, false);
	linux_atkbd_probe(&g, true);
	/* A guest that never reads: two sequences fit (8 bytes each in
	 * set 1), a third does not, and nothing is half-queued. */
	rises = g.rises;
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), 0);
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), 0);
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), -1);
	/* The line went up once and stays up: no edge per queued byte. */
	assert_int_equal(g.rises, rises + 1);
	/* Commands it never reads the answers of: still bounded. */
	for (unsigned int i = 0; i < 1000; i++) {
		dat(&g.k, 0xf2);
		cmd(&g.k, 0x20);
		assert_true(g.k.q_len <= I8042_QUEUE_CAP);
	}
	while (status(&g.k) & ST_OBF) {
		uint8_t v = rd(&g.k);

		/* The CTR answer, then the two whole sequences. */
		if (n > 0)
			assert_int_equal(v, cad_set1[(n - 1) % 8]);
		assert_true(++n <= 1 + I8042_QUEUE_CAP);
	}
	assert_int_equal(n, 1 + 16);
	/* Set 2 takes 11 bytes: one fits, a second does not. */
	cmd(&g.k, 0x60);
	dat(&g.k, CTR_KBDINT);
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), 0);
	assert_int_equal(i8042_send_ctrl_alt_del(&g.k), -1);
	assert_int_equal(g.k.q_len, 11);
	assert_int_equal(g.redundant, 0);
}

/* xorshift32: a fixed seed, so a failure replays. */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void check_invariants(struct rig *g)
{
	struct i8042 *k = &g->k;
	uint8_t st = status(k);

	assert_true(k->q_len <= I8042_QUEUE_CAP);
	assert_true(k->q_head < I8042_QUEUE_CAP);
	assert_true(k->scan_set >= 1 && k->scan_set <= 3);
	assert_true(k->ctr & CTR_AUXDIS);
	assert_false(k->ctr & (CTR_AUXINT | 0x80));
	assert_false(st & (ST_IBF | ST_AUX));
	/* The line is high exactly when a byte waits with KBDINT on. */
	assert_int_equal(g->level, (st & ST_OBF) && (k->ctr & CTR_KBDINT));
	assert_int_equal(g->redundant, 0);
	assert_int_equal(g->bad_gsi, 0);
}

static void test_hostile_random(void **state)
{
	struct rig g;
	uint32_t seed = 0x8042c0de;

	(void)state;
	rig_init(&g);
	for (unsigned int i = 0; i < 200000; i++) {
		uint32_t x = next_rand(&seed);
		uint8_t v = (uint8_t)(x >> 8);
		/* Every 4096 rounds, a stretch where the guest never reads. */
		bool reads = (i >> 12) & 1;

		switch (x % 8) {
		case 0:
		case 1:
			cmd(&g.k, v);
			break;
		case 2:
		case 3:
		case 4:
			dat(&g.k, v);
			break;
		case 5:
			if (reads)
				rd(&g.k);
			break;
		case 6:
			i8042_send_ctrl_alt_del(&g.k);
			break;
		default:
			status(&g.k);
			break;
		}
		check_invariants(&g);
	}
	/* It went through reset pulses, so the fuzzing reached commands. */
	assert_true(g.r.reboot > 0);
	assert_int_equal(g.r.poweroff, 0);
}

/* The control API's thread types while a vCPU thread reads: every
 * accepted sequence arrives whole and in order. */
struct typist {
	struct i8042 *k;
	unsigned int sent;
};

static void *type_cad(void *arg)
{
	struct typist *t = arg;

	for (unsigned int i = 0; i < 20000; i++)
		if (i8042_send_ctrl_alt_del(t->k) == 0)
			t->sent++;
	return NULL;
}

static void read_cad_byte(struct rig *g, unsigned long *got)
{
	if (status(&g->k) & ST_OBF) {
		assert_int_equal(rd(&g->k), cad_set1[*got % 8]);
		(*got)++;
	}
}

static void test_concurrent_cad(void **state)
{
	struct rig g;
	struct typist t = { .k = &g.k };
	pthread_t th;
	unsigned long got = 0;

	(void)state;
	rig_init(&g);
	linux_i8042_probe(&g, false, false);
	linux_atkbd_probe(&g, true);
	assert_int_equal(pthread_create(&th, NULL, type_cad, &t), 0);
	while (pthread_tryjoin_np(th, NULL) != 0)
		read_cad_byte(&g, &got);
	for (int i = 0; i < I8042_QUEUE_CAP; i++)
		read_cad_byte(&g, &got);
	assert_false(status(&g.k) & ST_OBF);
	assert_true(t.sent > 1);
	assert_int_equal(got, 8UL * t.sent);
	assert_int_equal(g.redundant, 0);
}

/* ---- snapshot ---- */

static void save(struct i8042 *k, struct state_writer *w,
		 const uint8_t **buf, size_t *len)
{
	struct rv_err err;

	state_writer_init(w, "test");
	i8042_save(k, w);
	assert_int_equal(state_writer_finish(w, buf, len, &err), 0);
}

static int load(struct i8042 *k, const uint8_t *buf, size_t len,
		struct rv_err *err)
{
	struct state_reader r;
	int rc;

	assert_int_equal(state_reader_open(&r, buf, len, "test", err), 0);
	rc = i8042_load(k, &r, err);
	state_reader_free(&r);
	return rc;
}

/* A state holding one "i8042" section with this payload. */
static int load_payload(struct i8042 *k, uint32_t version, const uint8_t *p,
			size_t n, struct rv_err *err)
{
	struct state_writer w;
	const uint8_t *buf;
	size_t len;
	int rc;

	state_writer_init(&w, "test");
	state_begin(&w, "i8042", version);
	state_put_bytes(&w, p, n);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w, &buf, &len, err), 0);
	rc = load(k, buf, len, err);
	state_writer_free(&w);
	return rc;
}

/* The guest-visible state, the queue in read order. */
static void assert_same_state(struct i8042 *a, struct i8042 *b)
{
	assert_int_equal(a->ctr, b->ctr);
	assert_int_equal(a->outp, b->outp);
	assert_int_equal(a->pending_cmd, b->pending_cmd);
	assert_int_equal(a->ctl_full, b->ctl_full);
	assert_int_equal(a->ctl_byte, b->ctl_byte);
	assert_int_equal(a->last, b->last);
	assert_int_equal(a->kbd_cmd, b->kbd_cmd);
	assert_int_equal(a->scanning, b->scanning);
	assert_int_equal(a->scan_set, b->scan_set);
	assert_int_equal(a->leds, b->leds);
	assert_int_equal(a->typematic, b->typematic);
	assert_int_equal(a->irq_level, b->irq_level);
	assert_int_equal(a->q_len, b->q_len);
	for (unsigned int i = 0; i < a->q_len; i++)
		assert_int_equal(a->q[(a->q_head + i) % I8042_QUEUE_CAP],
				 b->q[(b->q_head + i) % I8042_QUEUE_CAP]);
}

/* A keyboard in the middle of things: probed, LEDs set, part of a
 * Ctrl-Alt-Del read, an LED command waiting for its byte, a CTR answer
 * unread, a controller command waiting for its data. */
static void busy_rig(struct rig *g)
{
	rig_init(g);
	linux_i8042_probe(g, false, false);
	linux_atkbd_probe(g, true);
	kbd_ack(g, 0xed);
	kbd_ack(g, 0x05);
	assert_int_equal(i8042_send_ctrl_alt_del(&g->k), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(take(g), cad_set1[i]);
	dat(&g->k, 0xed);               /* ACK queued, LED byte pending */
	cmd(&g->k, 0x20);               /* CTR answer unread */
	/* 14 bytes queued, wrapped past the end of the ring. */
	assert_int_equal(i8042_send_ctrl_alt_del(&g->k), 0);
	assert_int_equal(g->k.q_len, 14);
	assert_true(g->k.q_head + g->k.q_len > I8042_QUEUE_CAP);
	cmd(&g->k, 0xd1);               /* waits for its data byte */
}

static void test_snapshot_round_trip(void **state)
{
	struct rig a, b;
	struct state_writer w;
	const uint8_t *buf;
	size_t len;
	struct rv_err err;

	(void)state;
	busy_rig(&a);
	save(&a.k, &w, &buf, &len);
	rig_init(&b);
	assert_int_equal(load(&b.k, buf, len, &err), 0);
	state_writer_free(&w);
	assert_same_state(&a.k, &b.k);
	/* The line level was restored with the interrupt controller; the
	 * device does not drive it on load. */
	assert_true(b.k.irq_level);
	assert_int_equal(b.rises + b.redundant, 0);
	b.level = true;
	/* Both continue the same byte stream. */
	dat(&a.k, 0x03);                /* output port: no reset */
	dat(&b.k, 0x03);
	dat(&a.k, 0x00);                /* to the keyboard */
	dat(&b.k, 0x00);
	while (status(&a.k) & ST_OBF) {
		assert_int_equal(status(&b.k), status(&a.k));
		assert_int_equal(rd(&b.k), rd(&a.k));
		assert_int_equal(b.level, a.level);
	}
	assert_int_equal(status(&b.k), status(&a.k));
	assert_int_equal(b.r.reboot, 0);
	/* The pending LED byte was taken: the last ACK answered it. */
	assert_int_equal(a.k.kbd_cmd, 0);
	assert_same_state(&a.k, &b.k);
	assert_int_equal(b.redundant, 0);
}

/* Payload offsets of the version 2 section. */
enum { P_CTR, P_OUTP, P_PENDING, P_CTL_FULL, P_CTL_BYTE, P_LAST, P_KBD_CMD,
       P_SCANNING, P_SET, P_LEDS, P_TYPEMATIC, P_QLEN, P_QUEUE };

static void test_snapshot_refuses_bad_values(void **state)
{
	static const struct {
		unsigned int off;
		uint8_t v;
		int have;       /* queue bytes in the payload (-1: as saved) */
	} bad[] = {
		{ P_CTR, 0x01, -1 },            /* AUX port "enabled" */
		{ P_CTR, 0x63, -1 },            /* AUX interrupt on */
		{ P_CTR, 0xe1, -1 },            /* bit 7 */
		{ P_OUTP, 0x02, -1 },           /* CPU held in reset */
		{ P_PENDING, 0xaa, -1 },        /* takes no data */
		{ P_CTL_FULL, 2, -1 },
		{ P_KBD_CMD, 0xf4, -1 },        /* takes no data */
		{ P_SCANNING, 0x80, -1 },
		{ P_SET, 0, -1 },
		{ P_SET, 4, -1 },
		{ P_LEDS, 0x08, -1 },
		{ P_TYPEMATIC, 0x80, -1 },
		/* Longer than the queue, every byte present. */
		{ P_QLEN, I8042_QUEUE_CAP + 1, I8042_QUEUE_CAP + 1 },
		{ P_QLEN, 0xff, 0xff },
		{ P_QLEN, 5, 3 },               /* more than the payload holds */
	};
	struct rig a, victim, fresh;
	struct state_writer w;
	struct state_reader r;
	const uint8_t *buf;
	uint8_t p[P_QUEUE + 256];
	size_t len, n;
	struct rv_err err;

	(void)state;
	busy_rig(&a);
	save(&a.k, &w, &buf, &len);
	assert_int_equal(state_reader_open(&r, buf, len, "test", &err), 0);
	assert_string_equal(r.sec[0].name, "i8042");
	n = (size_t)r.sec[0].len;
	assert_int_equal(n, P_QUEUE + a.k.q_len);
	memcpy(p, r.sec[0].payload, n);
	state_reader_free(&r);
	state_writer_free(&w);

	/* The untouched payload loads. */
	rig_init(&fresh);
	assert_int_equal(load_payload(&fresh.k, 2, p, n, &err), 0);
	assert_same_state(&a.k, &fresh.k);

	rig_init(&fresh);
	busy_rig(&victim);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t q[sizeof(p)];
		size_t qn = n;

		memcpy(q, p, n);
		memset(q + n, 0x1d, sizeof(q) - n);
		q[bad[i].off] = bad[i].v;
		if (bad[i].have >= 0)
			qn = P_QUEUE + (size_t)bad[i].have;
		err.msg[0] = 0;
		assert_int_equal(load_payload(&victim.k, 2, q, qn, &err), -1);
		assert_non_null(strstr(err.msg, "i8042"));
		/* Nothing of a refused state was taken. */
		assert_same_state(&victim.k, &a.k);
	}
	/* Truncated, or one byte too many. */
	assert_int_equal(load_payload(&victim.k, 2, p, n - 1, &err), -1);
	p[n] = 0;
	assert_int_equal(load_payload(&victim.k, 2, p, n + 1, &err), -1);
	/* A newer section version. */
	assert_int_equal(load_payload(&victim.k, 3, p, n, &err), -1);
	assert_same_state(&victim.k, &a.k);
	assert_int_equal(victim.r.reboot, 0);
}

static void test_snapshot_version1(void **state)
{
	struct rig g, fresh;
	struct rv_err err;

	(void)state;
	/* Before the keyboard: just the controller's pending command. The
	 * guest never saw a keyboard, so it stays as at power on. */
	rig_init(&g);
	rig_init(&fresh);
	assert_int_equal(load_payload(&g.k, 1, (const uint8_t[]){ 0xd1 }, 1,
				      &err), 0);
	assert_int_equal(g.k.pending_cmd, 0xd1);
	g.k.pending_cmd = 0;
	assert_same_state(&g.k, &fresh.k);
	g.k.pending_cmd = 0xd1;
	dat(&g.k, 0x00);
	assert_int_equal(g.r.reboot, 1);
	assert_int_equal(load_payload(&g.k, 1, (const uint8_t[]){ 0xaa }, 1,
				      &err), -1);
	assert_int_equal(load_payload(&g.k, 1, (const uint8_t[]){ 0, 0 }, 2,
				      &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_pulse_reset),
		cmocka_unit_test(test_output_port_reset),
		cmocka_unit_test(test_other_commands_never_reset),
		cmocka_unit_test(test_hostile_access),
		cmocka_unit_test(test_linux_probe_translated),
		cmocka_unit_test(test_linux_probe_no_aux),
		cmocka_unit_test(test_linux_probe_direct),
		cmocka_unit_test(test_scan_sets),
		cmocka_unit_test(test_cad_refused_until_enabled),
		cmocka_unit_test(test_port_disable_holds_keyboard_bytes),
		cmocka_unit_test(test_queue_bounded),
		cmocka_unit_test(test_hostile_random),
		cmocka_unit_test(test_concurrent_cad),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_refuses_bad_values),
		cmocka_unit_test(test_snapshot_version1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
