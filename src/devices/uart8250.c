/* A 16550A as described by the National/TI PC16550D datasheet, reduced to
 * what a guest can observe: there is no baud clock, so the transmitter is
 * always empty and received bytes are available as soon as they are queued. */
#include "devices/uart8250.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/out_queue.h"

/* Register offsets (DLAB = LCR bit 7 selects the divisor latch at 0/1). */
#define REG_RBR_THR_DLL 0
#define REG_IER_DLM     1
#define REG_IIR_FCR     2
#define REG_LCR         3
#define REG_MCR         4
#define REG_LSR         5
#define REG_MSR         6
#define REG_SCR         7
#define NR_REGS         8

#define IER_ERBFI 0x01  /* received data available */
#define IER_ETBEI 0x02  /* transmitter holding register empty */
#define IER_ELSI  0x04  /* receiver line status */
#define IER_EDSSI 0x08  /* modem status */
#define IER_MASK  0x0f

#define IIR_NONE    0x01
#define IIR_MSR     0x00
#define IIR_THRE    0x02
#define IIR_RDA     0x04
#define IIR_RLS     0x06
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80
/* With nothing attached, report a cable that is always ready. */
#define MSR_IDLE (MSR_DCD | MSR_DSR | MSR_CTS)

/* Larger than the 16550A's 16 bytes: the guest cannot tell (it drains while
 * LSR.DR is set) and pastes need fewer interrupts. */
#define RX_FIFO_SIZE 64

struct uart8250 {
	pthread_mutex_t lock;
	struct irq_line irq;
	/* Transmitted bytes go through queues drained by their own threads:
	 * a vCPU writing THR never waits on a terminal or a pipe. */
	struct out_queue *out;
	struct out_queue *log;

	uint8_t ier, lcr, mcr, msr, scr, dll, dlm;
	bool fifo_on;
	bool overrun;        /* LSR.OE, cleared by reading LSR */
	bool thr_ipending;   /* THRE interrupt latched until IIR read / THR */
	bool irq_level;

	uint8_t rx[RX_FIFO_SIZE];
	unsigned int rx_head, rx_count;
};

struct uart8250 *uart8250_new(struct irq_line irq, int out_fd, int log_fd)
{
	struct uart8250 *u = calloc(1, sizeof(*u));
	struct rv_err err;

	if (!u)
		return NULL;
	if (pthread_mutex_init(&u->lock, NULL) != 0) {
		free(u);
		return NULL;
	}
	if ((out_fd >= 0 &&
	     !(u->out = out_queue_new(out_fd, OUT_QUEUE_DEFAULT_CAP,
				      OUT_QUEUE_DEFAULT_WAIT_MS, "com1-out",
				      &err))) ||
	    (log_fd >= 0 &&
	     !(u->log = out_queue_new(log_fd, OUT_QUEUE_DEFAULT_CAP,
				      OUT_QUEUE_DEFAULT_WAIT_MS, "com1-log",
				      &err)))) {
		uart8250_free(u);
		return NULL;
	}
	u->irq = irq;
	u->msr = MSR_IDLE;
	u->dll = 12;    /* 9600 baud, what firmware leaves behind */
	u->lcr = 0x03;  /* 8N1 */
	return u;
}

void uart8250_free(struct uart8250 *u)
{
	if (!u)
		return;
	out_queue_free(u->out);
	out_queue_free(u->log);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

int uart8250_flush(struct uart8250 *u, int timeout_ms)
{
	int rc = 0;

	if (u->out && out_queue_flush(u->out, timeout_ms) < 0)
		rc = -1;
	if (u->log && out_queue_flush(u->log, timeout_ms) < 0)
		rc = -1;
	return rc;
}

/* Without FIFOs (16450 mode) the receiver holds a single byte. */
static unsigned int rx_capacity(const struct uart8250 *u)
{
	return u->fifo_on ? RX_FIFO_SIZE : 1;
}

static bool rx_push(struct uart8250 *u, uint8_t c)
{
	if (u->rx_count >= rx_capacity(u))
		return false;
	u->rx[(u->rx_head + u->rx_count) % RX_FIFO_SIZE] = c;
	u->rx_count++;
	return true;
}

static uint8_t rx_pop(struct uart8250 *u)
{
	uint8_t c;

	if (!u->rx_count)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % RX_FIFO_SIZE;
	u->rx_count--;
	return c;
}

/* The highest-priority enabled interrupt, as IIR reports it (datasheet
 * table: line status > received data > THR empty > modem status). */
static uint8_t pending_iir(const struct uart8250 *u)
{
	if ((u->ier & IER_ELSI) && u->overrun)
		return IIR_RLS;
	if ((u->ier & IER_ERBFI) && u->rx_count)
		return IIR_RDA;
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRE;
	if ((u->ier & IER_EDSSI) && (u->msr & 0x0f))
		return IIR_MSR;
	return IIR_NONE;
}

/* Called with the lock held so that level changes reach the interrupt
 * controller in the order the state changed. */
static void update_irq(struct uart8250 *u)
{
	bool level = pending_iir(u) != IIR_NONE;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

/* Best effort: a console that went away or stopped reading must not stop
 * the guest (out_queue drops what it cannot pass on). */
static void put_byte(struct out_queue *q, uint8_t c)
{
	if (q)
		out_queue_write(q, &c, 1);
}

/* Modem inputs: in loopback the MCR outputs are wired back to them. */
static void set_msr_inputs(struct uart8250 *u, uint8_t inputs)
{
	uint8_t old = u->msr, delta = 0;

	if ((old ^ inputs) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((old ^ inputs) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(inputs & MSR_RI))
		delta |= MSR_TERI;
	if ((old ^ inputs) & MSR_DCD)
		delta |= MSR_DDCD;
	u->msr = (uint8_t)(inputs | (old & 0x0f) | delta);
}

static uint8_t loopback_msr(uint8_t mcr)
{
	uint8_t m = 0;

	if (mcr & MCR_DTR)
		m |= MSR_DSR;
	if (mcr & MCR_RTS)
		m |= MSR_CTS;
	if (mcr & MCR_OUT1)
		m |= MSR_RI;
	if (mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

static void write_thr(struct uart8250 *u, uint8_t c)
{
	if (u->mcr & MCR_LOOP) {
		/* The transmitter is disconnected from the line. */
		if (!rx_push(u, c))
			u->overrun = true;
	} else {
		put_byte(u->out, c);
		put_byte(u->log, c);
	}
	u->thr_ipending = true;   /* the byte left at once */
}

static void write_fcr(struct uart8250 *u, uint8_t v)
{
	bool on = v & FCR_ENABLE;

	/* Toggling FIFO mode resets both FIFOs (datasheet, FCR bit 0). */
	if (on != u->fifo_on || (v & FCR_CLEAR_RX)) {
		u->rx_head = 0;
		u->rx_count = 0;
	}
	u->fifo_on = on;
}

static void reg_write(struct uart8250 *u, unsigned int reg, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t old;

	switch (reg) {
	case REG_RBR_THR_DLL:
		if (dlab)
			u->dll = v;
		else
			write_thr(u, v);
		break;
	case REG_IER_DLM:
		if (dlab) {
			u->dlm = v;
			break;
		}
		old = u->ier;
		u->ier = v & IER_MASK;
		/* Enabling ETBEI while THR is empty (always) raises THRE;
		 * Linux's startup tests rely on it. */
		if ((u->ier & IER_ETBEI) && !(old & IER_ETBEI))
			u->thr_ipending = true;
		else if (!(u->ier & IER_ETBEI))
			u->thr_ipending = false;
		break;
	case REG_IIR_FCR:
		write_fcr(u, v);
		break;
	case REG_LCR:
		u->lcr = v;
		break;
	case REG_MCR:
		u->mcr = v & MCR_MASK;
		set_msr_inputs(u, (u->mcr & MCR_LOOP) ? loopback_msr(u->mcr)
						      : MSR_IDLE);
		break;
	case REG_SCR:
		u->scr = v;
		break;
	default:
		break;  /* LSR and MSR are read-only here (factory test) */
	}
}

static uint8_t reg_read(struct uart8250 *u, unsigned int reg)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case REG_RBR_THR_DLL:
		return dlab ? u->dll : rx_pop(u);
	case REG_IER_DLM:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR:
		v = pending_iir(u);
		/* Reading IIR acknowledges THRE when it is the source. */
		if (v == IIR_THRE)
			u->thr_ipending = false;
		return (uint8_t)(v | (u->fifo_on ? IIR_FIFO_ON : 0));
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		v = LSR_THRE | LSR_TEMT;
		if (u->rx_count)
			v |= LSR_DR;
		if (u->overrun)
			v |= LSR_OE;
		u->overrun = false;
		return v;
	case REG_MSR:
		v = u->msr;
		u->msr &= 0xf0;   /* reading clears the delta bits */
		return v;
	case REG_SCR:
		return u->scr;
	default:
		return 0xff;
	}
}

/* Wider accesses are split into byte accesses to consecutive registers, as
 * an 8-bit device on the ISA bus sees them. */
void uart8250_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
		 bool is_write)
{
	struct uart8250 *u = dev;

	if (!u || !data)
		return;
	pthread_mutex_lock(&u->lock);
	for (uint32_t i = 0; i < len; i++) {
		bool inside = offset < NR_REGS && i < NR_REGS - offset;

		if (is_write) {
			if (inside)
				reg_write(u, (unsigned int)(offset + i), data[i]);
		} else {
			data[i] = inside ? reg_read(u, (unsigned int)(offset + i))
					 : 0xff;
		}
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart8250_input(struct uart8250 *u, const uint8_t *buf, size_t n)
{
	size_t done = 0;

	if (!u || !buf)
		return 0;
	pthread_mutex_lock(&u->lock);
	/* In loopback the receiver is cut off from the outside line. */
	if (!(u->mcr & MCR_LOOP)) {
		while (done < n && rx_push(u, buf[done]))
			done++;
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return done;
}

size_t uart8250_rx_space(struct uart8250 *u)
{
	size_t space;

	if (!u)
		return 0;
	pthread_mutex_lock(&u->lock);
	space = (u->mcr & MCR_LOOP) ? 0 : rx_capacity(u) - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return space;
}

/* ---- snapshot ---- */

#define UART_SECTION_VERSION 1

void uart8250_save(struct uart8250 *u, struct state_writer *w,
		   const char *name)
{
	pthread_mutex_lock(&u->lock);
	state_begin(w, name, UART_SECTION_VERSION);
	state_put_u8(w, u->ier);
	state_put_u8(w, u->lcr);
	state_put_u8(w, u->mcr);
	state_put_u8(w, u->msr);
	state_put_u8(w, u->scr);
	state_put_u8(w, u->dll);
	state_put_u8(w, u->dlm);
	state_put_bool(w, u->fifo_on);
	state_put_bool(w, u->overrun);
	state_put_bool(w, u->thr_ipending);
	state_put_bool(w, u->irq_level);
	state_put_u32(w, u->rx_count);
	for (unsigned int i = 0; i < u->rx_count; i++)
		state_put_u8(w, u->rx[(u->rx_head + i) % RX_FIFO_SIZE]);
	state_end(w);
	pthread_mutex_unlock(&u->lock);
}

int uart8250_load(struct uart8250 *u, const struct state_reader *r,
		  const char *name, struct rv_err *err)
{
	struct state_cursor c;
	struct uart8250 s;      /* the section's registers, then taken whole */
	uint32_t n;

	if (state_section(r, name, UART_SECTION_VERSION, &c, NULL, err) < 0)
		return -1;
	s.ier = state_get_u8(&c) & IER_MASK;
	s.lcr = state_get_u8(&c);
	s.mcr = state_get_u8(&c) & MCR_MASK;
	s.msr = state_get_u8(&c);
	s.scr = state_get_u8(&c);
	s.dll = state_get_u8(&c);
	s.dlm = state_get_u8(&c);
	s.fifo_on = state_get_bool(&c);
	s.overrun = state_get_bool(&c);
	s.thr_ipending = state_get_bool(&c);
	/* Matches the interrupt controller's restored line state. */
	s.irq_level = state_get_bool(&c);
	n = state_get_u32(&c);
	if (n > rx_capacity(&s)) {
		state_cursor_reject(&c, "receive FIFO holds more than it can");
		n = 0;
	}
	state_get_bytes(&c, s.rx, n);
	/* Only a section accepted whole is taken: a refused one (corrupt,
	 * truncated) leaves the UART as it was, never half loaded. */
	if (state_cursor_finish(&c, err) < 0)
		return -1;
	pthread_mutex_lock(&u->lock);
	u->ier = s.ier;
	u->lcr = s.lcr;
	u->mcr = s.mcr;
	u->msr = s.msr;
	u->scr = s.scr;
	u->dll = s.dll;
	u->dlm = s.dlm;
	u->fifo_on = s.fifo_on;
	u->overrun = s.overrun;
	u->thr_ipending = s.thr_ipending;
	u->irq_level = s.irq_level;
	memcpy(u->rx, s.rx, n);
	u->rx_head = 0;
	u->rx_count = n;
	pthread_mutex_unlock(&u->lock);
	return 0;
}
