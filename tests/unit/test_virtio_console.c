/* virtio-console driven through the virtio-pci registers with rings from
 * tests/unit/virtq_driver: guest output reaches out_fd (and the log) byte
 * for byte, host input reaches the guest's receive buffers, input beyond
 * the internal limit is refused, a dead or stuck output fd does not stop
 * the device, malformed chains are returned empty, config space. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "unit/virtio_pci_driver.h"
#include "unit/virtq_driver.h"
#include "virtio/console.h"
#include "virtio/virtio_pci.h"

#include "unit/virtq_driver.c"
#include "unit/virtio_pci_driver.c"
#include "unit/stats_text.h"

#define RAM        (4ull << 20)
#define RING0      0x10000ull
#define BUF        0x100000ull
#define QSIZE      128
#define NQ         2
#define BIT(n)     (1ull << (n))
#define F_SIZE     0
#define IN_LIMIT   4096

struct fx {
	struct guest_mem mem;
	int pipefd[2];           /* out_fd = pipefd[1] */
	int logfd;
	struct virtio_console *c;
	struct vpd drv;          /* transport, rings, MSI-X counts */
};

static uint64_t stat_of(struct fx *f, const char *name)
{
	char *buf = NULL;
	size_t sz = 0;
	FILE *m = open_memstream(&buf, &sz);
	uint64_t v;

	assert_non_null(m);
	virtio_console_print_stats(f->c, "con", m);
	fclose(m);
	v = stats_lookup(buf, "con", name);
	free(buf);
	return v;
}

/* Reads exactly len bytes from fd within 2 s. */
static void read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	for (int i = 0; i < 2000 && got < len; i++) {
		ssize_t r = read(fd, buf + got, len - got);

		if (r > 0)
			got += (size_t)r;
		else
			usleep(1000);
	}
	assert_int_equal(got, len);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct guest_region layout = { .gpa = 0, .size = RAM };
	struct rv_err err;

	if (!f || guest_mem_map(&f->mem, &layout, 1, &err) < 0)
		return -1;
	vpd_init(&f->drv, &f->mem, NQ, QSIZE, RING0);
	if (pipe2(f->pipefd, O_CLOEXEC) < 0)
		return -1;
	fcntl(f->pipefd[0], F_SETFL, O_NONBLOCK);
	f->logfd = memfd_create("console-log", MFD_CLOEXEC);
	if (f->logfd < 0)
		return -1;
	f->c = virtio_console_new(f->pipefd[1], f->logfd, &f->mem,
				  vpd_msix_sink(&f->drv), &err);
	if (!f->c) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	f->drv.t = virtio_console_transport(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_console_free(f->c);
	if (f->pipefd[0] >= 0)
		close(f->pipefd[0]);
	close(f->pipefd[1]);
	close(f->logfd);
	guest_mem_unmap(&f->mem);
	free(f);
	return 0;
}

#define STD_FEATURES (BIT(F_SIZE) | BIT(VIRTIO_RING_F_EVENT_IDX) | \
		      BIT(VIRTIO_RING_F_INDIRECT_DESC))

static void test_config(void **state)
{
	struct fx *f = *state;
	uint8_t id[2];

	pci_cfg_read(&f->drv.t->pci, PCI_DEVICE_ID, id, 2);
	assert_int_equal(id[0] | id[1] << 8, 0x1043);
	assert_true(vpd_device_features(f->drv.t) & BIT(F_SIZE));
	assert_false(vpd_device_features(f->drv.t) & BIT(1));   /* no MULTIPORT */
	/* out_fd is a pipe, not a terminal: 80x25. */
	assert_int_equal(vpd_bar_read(f->drv.t, VIRTIO_PCI_DEVICE_OFF, 2), 80);
	assert_int_equal(vpd_bar_read(f->drv.t, VIRTIO_PCI_DEVICE_OFF + 2, 2), 25);
}

static void test_output_reaches_out_fd(void **state)
{
	struct fx *f = *state;
	uint8_t msg[3000], got[3000], logged[3000];
	uint32_t id, len;
	uint16_t head;

	vpd_setup(&f->drv, STD_FEATURES);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 13 + 1);
	memcpy(vpd_guest(&f->drv, BUF, sizeof(msg)), msg, sizeof(msg));
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, 1000, false },
				       { BUF + 1000, 2000, false } }, 2, &head);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	read_exact(f->pipefd[0], got, sizeof(got));
	assert_memory_equal(got, msg, sizeof(msg));
	assert_int_equal(pread(f->logfd, logged, sizeof(logged), 0),
			 sizeof(logged));
	assert_memory_equal(logged, msg, sizeof(msg));
	assert_true(atomic_load(&f->drv.fired[1]) >= 1);
	assert_int_equal(stat_of(f, "tx_bytes"), sizeof(msg));
	assert_int_equal(stat_of(f, "tx_dropped"), 0);
}

static void test_input_reaches_guest(void **state)
{
	struct fx *f = *state;
	uint8_t msg[100];
	uint32_t id, len;
	uint16_t h1, h2;

	/* Typed before the driver is up: queued. */
	assert_int_equal(virtio_console_input(f->c, (const uint8_t *)"abc", 3), 3);
	vpd_setup(&f->drv, STD_FEATURES);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 16, true } }, 1, &h1);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, h1);
	assert_int_equal(len, 3);
	assert_memory_equal(vpd_guest(&f->drv, BUF, 3), "abc", 3);
	assert_true(atomic_load(&f->drv.fired[0]) >= 1);

	/* More than one buffer holds: the rest waits for the next one. */
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)('A' + i % 26);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 64, true } }, 1, &h1);
	assert_int_equal(virtio_console_input(f->c, msg, sizeof(msg)),
			 sizeof(msg));
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, h1);
	assert_int_equal(len, 64);
	assert_memory_equal(vpd_guest(&f->drv, BUF, 64), msg, 64);
	usleep(20 * 1000);
	assert_false(vqd_get_used(&f->drv.q[0], &id, &len));
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 0x1000, 20, true },
				       { BUF + 0x2000, 20, true } }, 2, &h2);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, h2);
	assert_int_equal(len, 36);
	assert_memory_equal(vpd_guest(&f->drv, BUF + 0x1000, 20), msg + 64, 20);
	assert_memory_equal(vpd_guest(&f->drv, BUF + 0x2000, 16), msg + 84, 16);
	assert_int_equal(stat_of(f, "rx_bytes"), 103);
}

static void test_input_limit(void **state)
{
	struct fx *f = *state;
	uint8_t *big = malloc(IN_LIMIT + 1000);
	uint32_t id, len;

	assert_non_null(big);
	for (size_t i = 0; i < IN_LIMIT + 1000; i++)
		big[i] = (uint8_t)i;
	assert_int_equal(virtio_console_input(f->c, big, IN_LIMIT + 1000),
			 IN_LIMIT);
	assert_int_equal(virtio_console_input(f->c, big, 10), 0);
	assert_int_equal(stat_of(f, "input_refused"), 1010);

	/* Once the guest took it, there is room again. */
	vpd_setup(&f->drv, STD_FEATURES);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 8192, true } }, 1, NULL);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(len, IN_LIMIT);
	assert_memory_equal(vpd_guest(&f->drv, BUF, IN_LIMIT), big, IN_LIMIT);
	assert_int_equal(virtio_console_input(f->c, big, 10), 10);
	free(big);
}

static void test_dead_output_fd(void **state)
{
	struct fx *f = *state;
	uint8_t logged[5];
	uint32_t id, len;

	vpd_setup(&f->drv, STD_FEATURES);
	close(f->pipefd[0]);          /* nobody will ever read: EPIPE */
	f->pipefd[0] = -1;
	memcpy(vpd_guest(&f->drv, BUF, 5), "hello", 5);
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, 5, false } }, 1, NULL);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(len, 0);
	assert_int_equal(stat_of(f, "tx_dropped"), 5);
	/* The log still gets it, and the device keeps serving. */
	assert_int_equal(pread(f->logfd, logged, 5, 0), 5);
	assert_memory_equal(logged, "hello", 5);
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, 5, false } }, 1, NULL);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
}

static void test_stuck_output_fd(void **state)
{
	struct fx *f = *state;
	uint8_t junk[4096];
	struct timespec a, b;
	uint32_t id, len;
	double ms;

	vpd_setup(&f->drv, STD_FEATURES);
	/* Fill the pipe: a reader that never reads. */
	fcntl(f->pipefd[1], F_SETFL, O_NONBLOCK);
	memset(junk, 'x', sizeof(junk));
	while (write(f->pipefd[1], junk, sizeof(junk)) > 0)
		;
	fcntl(f->pipefd[1], F_SETFL, 0);  /* blocking again, as stdout is */
	memset(vpd_guest(&f->drv, BUF, 4096), 'y', 4096);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 5; i++) {
		vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, 4096, false } }, 1, NULL);
		assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
	     (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	/* One bounded wait, then drops without waiting. */
	assert_true(ms < 1000);
	assert_int_equal(stat_of(f, "tx_dropped"), 5 * 4096);
}

static void test_malformed_chains(void **state)
{
	struct fx *f = *state;
	uint8_t got[16];
	uint32_t id, len;
	uint16_t head;
	struct vqd *d = &f->drv.q[1];

	vpd_setup(&f->drv, STD_FEATURES);
	memcpy(vpd_guest(&f->drv, BUF, 4), "nope", 4);
	/* TX chain with a writable part. */
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, 4, false },
				       { BUF + 64, 4, true } }, 2, &head);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(id, head);
	/* TX descriptor outside guest RAM. */
	vqd_set_desc(d, 9, RAM - 2, 4, 0, 0);
	vqd_set_avail_ring(d, d->avail_idx, 9);
	vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + 1));
	vpd_kick(&f->drv, 1);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(id, 9);
	assert_int_equal(len, 0);
	usleep(10 * 1000);
	assert_int_equal(read(f->pipefd[0], got, sizeof(got)), -1);
	/* RX chain with a read-only part. */
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 4, false },
				       { BUF + 64, 4, true } }, 2, &head);
	assert_int_equal(virtio_console_input(f->c, (const uint8_t *)"z", 1), 1);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(stat_of(f, "bad_chains"), 3);
	/* Still working. */
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 128, 4, true } }, 1, &head);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(len, 1);
	assert_int_equal(vpd_guest(&f->drv, BUF + 128, 1)[0], 'z');

	/* A corrupt ring: DEVICE_NEEDS_RESET, then a reset recovers. */
	vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + QSIZE + 1));
	vpd_kick(&f->drv, 1);
	for (int i = 0; i < 2000 && !(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	assert_true(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET);
	vpd_setup(&f->drv, STD_FEATURES);
	memcpy(vpd_guest(&f->drv, BUF, 2), "ok", 2);
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, 2, false } }, 1, NULL);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	read_exact(f->pipefd[0], got, 2);
	assert_memory_equal(got, "ok", 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_reaches_out_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_reaches_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_output_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stuck_output_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_chains, setup, teardown),
	};

	/* SIGPIPE stays at its default (terminate): the device's I/O thread
	 * must see EPIPE as an error without the process dying. */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
