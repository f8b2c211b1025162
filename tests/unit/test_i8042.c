/* The i8042 stub: a status register that never stalls Linux's kb_wait(),
 * and the two ways a PC guest resets itself through the controller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "devices/i8042.h"

struct ctl_rec {
	unsigned int reboot;
	unsigned int poweroff;
};

static void rec_request(void *ctx, enum vm_request req)
{
	struct ctl_rec *r = ctx;

	if (req == VM_REQ_REBOOT)
		r->reboot++;
	else
		r->poweroff++;
}

static void init(struct i8042 *k, struct ctl_rec *r)
{
	memset(r, 0, sizeof(*r));
	i8042_init(k, (struct vm_ctl){ .request = rec_request, .ctx = r });
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

static void test_status(void **state)
{
	struct i8042 k;
	struct ctl_rec r;
	uint8_t v = 0xaa;

	(void)state;
	init(&k, &r);
	/* Input buffer empty (bit 1) so kb_wait() returns at once, output
	 * buffer empty (bit 0) so i8042_flush() ends, system flag (bit 2). */
	assert_int_equal(status(&k) & 0x03, 0);
	assert_int_equal(status(&k) & 0x04, 0x04);
	/* Still so after commands and data. */
	cmd(&k, 0xaa);
	dat(&k, 0xf4);
	assert_int_equal(status(&k) & 0x07, 0x04);
	i8042_data_io(&k, 0, &v, 1, false);
	assert_int_equal(v, 0);
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
	/* The same byte without 0xD1 first goes to the keyboard: ignored. */
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

static void test_other_commands_ignored(void **state)
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
	/* No control callback: reset requests are dropped, not crashed on. */
	i8042_init(&nop, (struct vm_ctl){ 0 });
	cmd(&nop, 0xfe);
	cmd(&nop, 0xd1);
	dat(&nop, 0x00);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_pulse_reset),
		cmocka_unit_test(test_output_port_reset),
		cmocka_unit_test(test_other_commands_ignored),
		cmocka_unit_test(test_hostile_access),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
