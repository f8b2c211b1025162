/* The 16550A as Linux's 8250 driver probes and drives it: autoconfig,
 * transmit to a file descriptor, the receive FIFO, IIR priorities and the
 * level of the interrupt line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/uart8250.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
       LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define TEST_GSI 4

/* Records every level the UART drives onto its interrupt line. */
struct irq_rec {
	bool level[256];     /* the first 256 changes */
	unsigned int n;
	unsigned long total;
	unsigned long redundant;   /* set to the level it already had */
	bool last;
	unsigned int bad_gsi;
};

static void rec_set_level(void *ctx, unsigned int gsi, bool level)
{
	struct irq_rec *r = ctx;

	if (gsi != TEST_GSI)
		r->bad_gsi++;
	if (level == r->last)
		r->redundant++;
	r->last = level;
	r->total++;
	if (r->n < 256)
		r->level[r->n++] = level;
}

struct fixture {
	struct irq_rec irq;
	struct uart8250 *u;
	int out[2];   /* pipe: out[0] is what the console would read */
	int log[2];
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	struct irq_line line = { .set_level = NULL, .gsi = TEST_GSI };

	if (!f || pipe2(f->out, O_NONBLOCK) < 0 || pipe2(f->log, O_NONBLOCK) < 0)
		return -1;
	line.set_level = rec_set_level;
	line.ctx = &f->irq;
	f->u = uart8250_new(line, f->out[1], f->log[1]);
	if (!f->u)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uart8250_free(f->u);
	close(f->out[0]);
	close(f->out[1]);
	close(f->log[0]);
	close(f->log[1]);
	assert_int_equal(f->irq.bad_gsi, 0);
	assert_int_equal(f->irq.redundant, 0);
	test_free(f);
	return 0;
}

static void outb(struct uart8250 *u, unsigned int reg, uint8_t v)
{
	uart8250_io(u, reg, &v, 1, true);
}

static uint8_t inb(struct uart8250 *u, unsigned int reg)
{
	uint8_t v = 0x5a;

	uart8250_io(u, reg, &v, 1, false);
	return v;
}

/* Output leaves through the UART's writer threads: wait for them first. */
static size_t drain_u(struct uart8250 *u, int fd, char *buf, size_t cap)
{
	ssize_t r;

	assert_int_equal(uart8250_flush(u, 2000), 0);
	r = read(fd, buf, cap);
	return r < 0 ? 0 : (size_t)r;
}

#define drain(fd, buf, cap) drain_u(f->u, fd, buf, cap)

/* The order of probes in Linux's autoconfig() and autoconfig_16550a(). */
static void test_linux_autoconfig(void **state)
{
	struct fixture *f = *state;
	struct uart8250 *u = f->u;

	/* Scratch register holds any value. */
	outb(u, SCR, 0xa5);
	assert_int_equal(inb(u, SCR), 0xa5);
	outb(u, SCR, 0x5a);
	assert_int_equal(inb(u, SCR), 0x5a);

	/* IER: only the low nibble exists. */
	outb(u, IER, 0);
	assert_int_equal(inb(u, IER) & 0x0f, 0);
	outb(u, IER, 0xff);
	assert_int_equal(inb(u, IER), 0x0f);
	outb(u, IER, 0);

	/* Loopback: RTS -> CTS, OUT2 -> DCD; Linux wants exactly 0x90. */
	outb(u, MCR, 0x10 | 0x0a);
	assert_int_equal(inb(u, MSR) & 0xf0, 0x90);
	outb(u, MCR, 0x10 | 0x01 | 0x04);     /* DTR -> DSR, OUT1 -> RI */
	assert_int_equal(inb(u, MSR) & 0xf0, 0x60);
	outb(u, MCR, 0);
	/* Out of loopback, the modem inputs read "cable ready". */
	assert_int_equal(inb(u, MSR) & 0xf0, 0xb0);
	assert_int_equal(inb(u, MSR) & 0x0f, 0);   /* deltas cleared by read */

	/* Divisor latch behind DLAB, distinct from RBR/IER. */
	outb(u, IER, 0x05);
	outb(u, LCR, 0x80 | 0x03);
	outb(u, DLL, 0x01);
	outb(u, DLM, 0x02);
	assert_int_equal(inb(u, DLL), 0x01);
	assert_int_equal(inb(u, DLM), 0x02);
	assert_int_equal(inb(u, LCR), 0x83);
	outb(u, LCR, 0x03);
	assert_int_equal(inb(u, IER), 0x05);   /* DLM write left IER alone */
	assert_int_equal(inb(u, LCR), 0x03);
	outb(u, LCR, 0x80);
	assert_int_equal(inb(u, DLL), 0x01);  /* divisor kept */
	outb(u, LCR, 0x03);
	outb(u, IER, 0);

	/* FIFO detection: IIR bits 7:6 = 3 means a 16550A. */
	outb(u, FCR, 0x01);
	assert_int_equal(inb(u, IIR) >> 6, 3);
	/* Not a 16750 (IIR bit 5 with the 64-byte FCR bit), in either LCR. */
	outb(u, FCR, 0x21);
	assert_int_equal(inb(u, IIR) >> 5, 6);
	outb(u, LCR, 0x80);
	outb(u, FCR, 0x21);
	assert_int_equal(inb(u, IIR) >> 5, 6);
	/* Not a 16650: with LCR=0xBF, offset 2 (EFR there) does not read 0. */
	outb(u, LCR, 0xbf);
	assert_int_not_equal(inb(u, IIR), 0);
	outb(u, LCR, 0x03);
	outb(u, FCR, 0x00);
	assert_int_equal(inb(u, IIR), 0x01);   /* FIFOs off, nothing pending */

	/* LSR: transmitter always idle, nothing received. */
	assert_int_equal(inb(u, LSR), 0x60);
	/* Only the IER probe (ETBEI on with THR empty) pulsed the line. */
	assert_int_equal(f->irq.n, 2);
	assert_true(f->irq.level[0]);
	assert_false(f->irq.level[1]);
}

static void test_thr_output(void **state)
{
	struct fixture *f = *state;
	const char msg[] = "Linux version 6.1\r\n\x00\xff";
	char buf[64];

	for (size_t i = 0; i < sizeof(msg) - 1; i++)
		outb(f->u, THR, (uint8_t)msg[i]);
	assert_int_equal(drain(f->out[0], buf, sizeof(buf)), sizeof(msg) - 1);
	assert_memory_equal(buf, msg, sizeof(msg) - 1);
	assert_int_equal(drain(f->log[0], buf, sizeof(buf)), sizeof(msg) - 1);
	assert_memory_equal(buf, msg, sizeof(msg) - 1);
	assert_int_equal(inb(f->u, LSR) & 0x60, 0x60);

	/* With DLAB set, offset 0 is the divisor, not the transmitter. */
	outb(f->u, LCR, 0x80);
	outb(f->u, DLL, 'X');
	outb(f->u, LCR, 0x03);
	assert_int_equal(drain(f->out[0], buf, sizeof(buf)), 0);

	/* In loopback the line is disconnected: bytes come back as input. */
	outb(f->u, FCR, 0x01);
	outb(f->u, MCR, 0x10);
	outb(f->u, THR, 'L');
	outb(f->u, THR, 'B');
	assert_int_equal(drain(f->out[0], buf, sizeof(buf)), 0);
	assert_int_equal(drain(f->log[0], buf, sizeof(buf)), 0);
	assert_int_equal(inb(f->u, LSR) & 0x01, 0x01);
	assert_int_equal(inb(f->u, RBR), 'L');
	assert_int_equal(inb(f->u, RBR), 'B');
	assert_int_equal(inb(f->u, LSR) & 0x01, 0);
	/* ... and the outside world cannot inject bytes meanwhile. */
	assert_int_equal(uart8250_rx_space(f->u), 0);
	assert_int_equal(uart8250_input(f->u, (const uint8_t *)"z", 1), 0);
	outb(f->u, MCR, 0x0b);
	outb(f->u, THR, '!');
	assert_int_equal(drain(f->out[0], buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], '!');
}

/* A console that went away, or is full, never stops or kills the guest. */
static void test_dead_output(void **state)
{
	struct fixture *f = *state;
	struct irq_line none = { 0 };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	char big[4096];
	struct uart8250 *u;
	int p[2];

	(void)f;
	assert_int_equal(sigaction(SIGPIPE, &ign, &old), 0);
	/* Reader gone: EPIPE. */
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	u = uart8250_new(none, p[1], -1);
	assert_non_null(u);
	for (int i = 0; i < 100; i++)
		outb(u, THR, 'x');
	assert_int_equal(inb(u, LSR) & 0x60, 0x60);
	uart8250_free(u);
	close(p[1]);

	/* Pipe full and non-blocking: EAGAIN, bytes dropped, no hang. */
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	memset(big, 'f', sizeof(big));
	while (write(p[1], big, sizeof(big)) > 0)
		;
	u = uart8250_new(none, p[1], -1);
	assert_non_null(u);
	for (int i = 0; i < 100; i++)
		outb(u, THR, 'y');
	uart8250_free(u);
	close(p[0]);
	close(p[1]);

	/* No fds at all. */
	u = uart8250_new(none, -1, -1);
	assert_non_null(u);
	outb(u, THR, 'z');
	uart8250_free(u);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* stdout a *blocking* pipe that nobody reads (ringvm | a stuck reader):
 * the guest's writes must not block the vCPU, and tearing the UART down
 * (what ringvm does on SIGTERM) must not hang in a write either. */
static void test_stalled_blocking_reader(void **state)
{
	struct irq_line none = { 0 };
	struct timespec t0;
	struct uart8250 *u;
	char big[65536];
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	memset(big, 'f', sizeof(big));
	u = uart8250_new(none, p[1], -1);
	assert_non_null(u);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Several times the pipe's and the queue's capacity. */
	for (int i = 0; i < 2 * 1024 * 1024; i++)
		outb(u, THR, 'x');
	assert_true(ms_since(&t0) < 3000);
	assert_int_equal(uart8250_flush(u, 100), -1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uart8250_free(u);
	assert_true(ms_since(&t0) < 1000);
	close(p[0]);
	close(p[1]);
}

static void test_rx_fifo(void **state)
{
	struct fixture *f = *state;
	uint8_t in[300];
	size_t cap, got, next = 0;

	/* 16450 mode (FIFOs off, as firmware leaves it): one holding byte. */
	assert_int_equal(uart8250_rx_space(f->u), 1);
	assert_int_equal(uart8250_input(f->u, (const uint8_t *)"ab", 2), 1);
	assert_int_equal(uart8250_rx_space(f->u), 0);
	assert_int_equal(inb(f->u, RBR), 'a');
	assert_int_equal(uart8250_rx_space(f->u), 1);

	outb(f->u, FCR, 0x01 | 0x02 | 0x04 | 0xc0);
	cap = uart8250_rx_space(f->u);
	assert_true(cap >= 16);
	assert_true(cap < sizeof(in));
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);

	/* Offer more than fits: only what fits is taken, in order. */
	got = uart8250_input(f->u, in, sizeof(in));
	assert_int_equal(got, cap);
	assert_int_equal(uart8250_rx_space(f->u), 0);
	assert_int_equal(uart8250_input(f->u, in + got, sizeof(in) - got), 0);
	/* No overrun is reported: nothing was lost, the rest waits. */
	assert_int_equal(inb(f->u, LSR) & 0x03, 0x01);
	for (int i = 0; i < 5; i++)
		assert_int_equal(inb(f->u, RBR), in[next++]);
	assert_int_equal(uart8250_rx_space(f->u), 5);
	assert_int_equal(uart8250_input(f->u, in + got, sizeof(in) - got), 5);
	got += 5;
	while (inb(f->u, LSR) & 0x01)
		assert_int_equal(inb(f->u, RBR), in[next++]);
	assert_int_equal(next, got);
	/* Reading an empty receiver is harmless. */
	assert_int_equal(inb(f->u, RBR), 0);
	assert_int_equal(uart8250_rx_space(f->u), cap);

	/* FCR bit 1 clears the receive FIFO. */
	assert_int_equal(uart8250_input(f->u, in, 3), 3);
	outb(f->u, FCR, 0x01 | 0x02);
	assert_int_equal(inb(f->u, LSR) & 0x01, 0);
	/* Turning FIFOs off discards them too. */
	assert_int_equal(uart8250_input(f->u, in, 3), 3);
	outb(f->u, FCR, 0x00);
	assert_int_equal(inb(f->u, LSR) & 0x01, 0);
	assert_int_equal(uart8250_input(f->u, NULL, 3), 0);
	assert_int_equal(uart8250_input(f->u, in, 0), 0);
}

static void test_iir_priorities(void **state)
{
	struct fixture *f = *state;
	struct uart8250 *u = f->u;

	outb(u, FCR, 0x01);
	assert_int_equal(inb(u, IIR), 0xc1);
	outb(u, IER, 0x0f);
	/* ETBEI enabled while THR is empty: THRE pending. */
	assert_int_equal(uart8250_input(u, (const uint8_t *)"q", 1), 1);
	/* Received data outranks THRE. */
	assert_int_equal(inb(u, IIR), 0xc4);
	assert_int_equal(inb(u, IIR), 0xc4);   /* reading IIR does not ack RDA */
	assert_int_equal(inb(u, RBR), 'q');
	/* Now THRE shows, and reading IIR acknowledges it. */
	assert_int_equal(inb(u, IIR), 0xc2);
	assert_int_equal(inb(u, IIR), 0xc1);
	/* A THR write empties at once and raises THRE again. */
	outb(u, THR, '.');
	assert_int_equal(inb(u, IIR), 0xc2);
	assert_int_equal(inb(u, IIR), 0xc1);

	/* Overrun (loopback past the FIFO): line status outranks all. */
	outb(u, MCR, 0x10);
	(void)inb(u, MSR);     /* clear the deltas entering loopback made */
	for (int i = 0; i < 1000; i++)
		outb(u, THR, (uint8_t)i);
	assert_int_equal(inb(u, IIR), 0xc6);
	assert_int_equal(inb(u, LSR) & 0x03, 0x03);   /* DR + OE */
	assert_int_equal(inb(u, LSR) & 0x02, 0);      /* OE clears on read */
	assert_int_equal(inb(u, IIR), 0xc4);
	outb(u, FCR, 0x03);
	assert_int_equal(inb(u, IIR), 0xc2);          /* from the THR writes */
	assert_int_equal(inb(u, IIR), 0xc1);

	/* Modem status: lowest priority, cleared by reading MSR. */
	outb(u, MCR, 0x10 | 0x02);                    /* RTS -> CTS changes */
	assert_int_equal(inb(u, IIR), 0xc0);
	assert_int_equal(inb(u, MSR), 0x10 | 0x01);   /* CTS + DCTS */
	assert_int_equal(inb(u, IIR), 0xc1);
	/* Ring indicator: only its trailing edge counts (TERI). */
	outb(u, MCR, 0x10 | 0x02 | 0x04);
	assert_int_equal(inb(u, IIR), 0xc1);
	outb(u, MCR, 0x10 | 0x02);
	assert_int_equal(inb(u, IIR), 0xc0);
	assert_int_equal(inb(u, MSR) & 0x0f, 0x04);

	/* Disabled sources do not show in IIR even when pending. */
	outb(u, IER, 0);
	assert_int_equal(uart8250_input(u, (const uint8_t *)"q", 1), 0);
	outb(u, MCR, 0);
	assert_int_equal(uart8250_input(u, (const uint8_t *)"q", 1), 1);
	assert_int_equal(inb(u, IIR), 0xc1);
	outb(u, IER, 0x01);
	assert_int_equal(inb(u, IIR), 0xc4);
}

/* Linux's serial8250_do_startup() checks that THRE is reasserted whenever
 * ETBEI is enabled (UART_BUG_THRE, UART_BUG_TXEN): pass both. */
static void test_linux_thre_checks(void **state)
{
	struct uart8250 *u = ((struct fixture *)*state)->u;

	outb(u, IER, 0x02);
	assert_int_equal(inb(u, IIR) & 0x0f, 0x02);
	outb(u, IER, 0);
	outb(u, IER, 0x02);
	assert_int_equal(inb(u, IIR) & 0x01, 0);
	outb(u, IER, 0);

	outb(u, IER, 0x02);
	assert_int_equal(inb(u, LSR) & 0x40, 0x40);
	assert_int_equal(inb(u, IIR) & 0x01, 0);
	outb(u, IER, 0);
	assert_int_equal(inb(u, IIR) & 0x01, 0x01);
}

static void expect_levels(const struct irq_rec *r, const bool *want,
			  unsigned int n)
{
	if (r->n != n)
		fail_msg("%u level changes, want %u", r->n, n);
	for (unsigned int i = 0; i < n; i++)
		if (r->level[i] != want[i])
			fail_msg("change %u: level %d, want %d", i,
				 r->level[i], want[i]);
}

static void test_irq_levels(void **state)
{
	struct fixture *f = *state;
	struct uart8250 *u = f->u;

	outb(u, FCR, 0x01);
	/* Data arrives with ERBFI off: no interrupt. */
	assert_int_equal(uart8250_input(u, (const uint8_t *)"ab", 2), 2);
	expect_levels(&f->irq, (const bool[]){ 0 }, 0);
	outb(u, IER, 0x01);                                  /* -> high */
	(void)inb(u, RBR);
	(void)inb(u, RBR);                                   /* -> low */
	expect_levels(&f->irq, (const bool[]){ 1, 0 }, 2);
	assert_int_equal(uart8250_input(u, (const uint8_t *)"c", 1), 1);
	expect_levels(&f->irq, (const bool[]){ 1, 0, 1 }, 3);
	/* More data while high: no redundant edges. */
	assert_int_equal(uart8250_input(u, (const uint8_t *)"d", 1), 1);
	assert_int_equal(inb(u, IIR), 0xc4);
	expect_levels(&f->irq, (const bool[]){ 1, 0, 1 }, 3);
	(void)inb(u, RBR);
	(void)inb(u, RBR);
	expect_levels(&f->irq, (const bool[]){ 1, 0, 1, 0 }, 4);

	/* Transmit interrupts: enable, ack by IIR, re-raise by THR write. */
	outb(u, IER, 0x03);
	(void)inb(u, IIR);
	outb(u, THR, 'x');
	outb(u, IER, 0x01);                                  /* stop_tx */
	expect_levels(&f->irq, (const bool[]){ 1, 0, 1, 0, 1, 0, 1, 0 }, 8);
	/* THR writes with ETBEI off raise nothing. */
	outb(u, THR, 'y');
	expect_levels(&f->irq, (const bool[]){ 1, 0, 1, 0, 1, 0, 1, 0 }, 8);
	/* Overrun with ELSI: high until LSR is read. */
	outb(u, IER, 0x04);
	outb(u, MCR, 0x10);
	for (int i = 0; i < 200; i++)
		outb(u, THR, 'o');
	expect_levels(&f->irq, (const bool[]){ 1, 0, 1, 0, 1, 0, 1, 0, 1 }, 9);
	(void)inb(u, LSR);
	expect_levels(&f->irq, (const bool[]){ 1, 0, 1, 0, 1, 0, 1, 0, 1, 0 }, 10);
}

/* Any offset and any length: never a crash, never a stray write. */
static void test_hostile_access(void **state)
{
	struct fixture *f = *state;
	static const uint64_t offs[] = { 0, 1, 5, 7, 8, 9, 255, 4096,
					 UINT64_MAX - 3, UINT64_MAX };
	uint8_t buf[40];

	for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
		for (uint32_t len = 0; len <= 32; len++) {
			memset(buf, 0xcc, sizeof(buf));
			uart8250_io(f->u, offs[o], buf, len, false);
			for (uint32_t i = len; i < sizeof(buf); i++)
				assert_int_equal(buf[i], 0xcc);
			if (offs[o] >= 8)
				for (uint32_t i = 0; i < len; i++)
					assert_int_equal(buf[i], 0xff);
			memset(buf, 0, sizeof(buf));
			uart8250_io(f->u, offs[o], buf, len, true);
		}
	}
	/* A 4-byte read at LSR is LSR, MSR, SCR and then nothing. */
	outb(f->u, SCR, 0x42);
	outb(f->u, MCR, 0);
	uart8250_io(f->u, 5, buf, 4, false);
	assert_int_equal(buf[0] & 0x60, 0x60);
	assert_int_equal(buf[1] & 0xf0, 0xb0);
	assert_int_equal(buf[2], 0x42);
	assert_int_equal(buf[3], 0xff);
	/* A 2-byte write at SCR touches SCR only. */
	buf[0] = 0x11;
	buf[1] = 0x22;
	uart8250_io(f->u, 7, buf, 2, true);
	assert_int_equal(inb(f->u, SCR), 0x11);
	/* NULLs are ignored. */
	uart8250_io(NULL, 0, buf, 1, false);
	uart8250_io(f->u, 0, NULL, 1, false);
	assert_int_equal(uart8250_rx_space(NULL), 0);
	uart8250_free(NULL);
}

/* The console thread feeds input while a vCPU drains it. */
struct feeder {
	struct uart8250 *u;
	unsigned int total;
};

static void *feed(void *arg)
{
	struct feeder *fd = arg;
	unsigned int sent = 0;

	while (sent < fd->total) {
		uint8_t b = (uint8_t)(sent % 251);

		if (uart8250_input(fd->u, &b, 1) == 1)
			sent++;
		else
			sched_yield();
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct feeder fd = { .u = f->u, .total = 20000 };
	unsigned int seen = 0;
	pthread_t t;

	outb(f->u, FCR, 0x01);
	outb(f->u, IER, 0x01);
	assert_int_equal(pthread_create(&t, NULL, feed, &fd), 0);
	while (seen < fd.total) {
		if (inb(f->u, LSR) & 0x01) {
			uint8_t b = inb(f->u, RBR);

			if (b != seen % 251)
				fail_msg("byte %u: got %u", seen, b);
			seen++;
		}
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(inb(f->u, LSR) & 0x01, 0);
	/* The line toggled with the FIFO state and ended low. */
	assert_true(f->irq.total > 0);
	assert_false(f->irq.last);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stalled_blocking_reader),
		cmocka_unit_test_setup_teardown(test_linux_autoconfig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thr_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iir_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_thre_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irq_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
