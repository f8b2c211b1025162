/* virtio-console with a single port (no MULTIPORT): receiveq0 carries host
 * input to the guest, transmitq0 the guest's output to out_fd (and a copy
 * to log_fd).
 *
 * Host input is queued by the main thread in a small buffer and handed to
 * the I/O thread through an eventfd; the I/O thread alone touches guest
 * memory. Output must never wedge the I/O thread: each write waits a bounded
 * time for the fd, and what cannot be written then is dropped (a console
 * nobody reads loses bytes, it does not stop the guest). */
#include "virtio/console.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/le.h"
#include "virtio/virtio_dev_common.h"

#define VIRTIO_CONSOLE_F_SIZE 0

#define CON_CONFIG_LEN   12      /* cols, rows, max_nr_ports, emerg_wr */
#define CON_QSIZE        128
#define CON_IN_MAX       4096    /* host input queued for the guest */
#define CON_CHUNK        512     /* bytes per bounded write to a pipe/tty */
#define CON_WAIT_MS      100     /* how long output may wait for an fd */
#define CON_BUDGET       256

enum { RXQ = 0, TXQ = 1, CON_NQUEUES = 2 };

struct con_out {
	int fd;              /* -1: none */
	bool regular;        /* a file: writes never wait */
	bool dead;           /* EPIPE or similar: dropped from now on */
	bool stalled;        /* last write timed out: do not wait again */
};

struct con_stats {
	atomic_uint_fast64_t tx_bytes, rx_bytes, tx_dropped, in_refused;
	atomic_uint_fast64_t rx_kicks, tx_kicks, irqs, bad_chains;
};

struct virtio_console {
	struct virtio_pci t;
	struct ev_loop *loop;
	uint8_t config[CON_CONFIG_LEN];
	struct con_out out[2];     /* out_fd, log_fd */
	int in_evfd;

	pthread_mutex_t in_lock;   /* the input ring below */
	uint8_t in_buf[CON_IN_MAX];
	size_t in_head, in_len;

	/* I/O thread state (activate .. reset). */
	struct virtq *vq[CON_NQUEUES];
	int kick[CON_NQUEUES];
	bool queue_dead[CON_NQUEUES];
	struct iovec iov[CON_QSIZE];
	uint8_t chunk[CON_CHUNK];

	struct con_stats st;
};

static void stat_add(atomic_uint_fast64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static void con_irq(struct virtio_console *c, unsigned int q)
{
	if (virtq_should_notify(c->vq[q])) {
		stat_add(&c->st.irqs, 1);
		virtio_pci_queue_irq(&c->t, q);
	}
}

/* ---- output ---- */

/* Writes buf or drops (part of) it; never blocks longer than CON_WAIT_MS.
 * Returns the bytes dropped. */
static size_t out_write(struct con_out *o, const uint8_t *buf, size_t len)
{
	if (o->fd < 0)
		return 0;
	while (len && !o->dead) {
		size_t n = o->regular || len < CON_CHUNK ? len : CON_CHUNK;
		ssize_t w;

		if (!o->regular) {
			struct pollfd p = { .fd = o->fd, .events = POLLOUT };
			int r = poll(&p, 1, o->stalled ? 0 : CON_WAIT_MS);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				o->stalled = true;
				return len;
			}
			if (p.revents & (POLLERR | POLLNVAL)) {
				o->dead = true;
				return len;
			}
		}
		w = write(o->fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (o->regular)
				return len;
			continue; /* poll decides */
		}
		if (w <= 0) {
			o->dead = true; /* EPIPE, EIO, EBADF, ...: give up */
			return len;
		}
		o->stalled = false;
		buf += w;
		len -= (size_t)w;
	}
	return len;
}

static void tx_chain(struct virtio_console *c, const struct virtq_chain *ch)
{
	for (unsigned int i = 0; i < ch->nout; i++) {
		const uint8_t *p = ch->iov[i].iov_base;
		size_t len = ch->iov[i].iov_len;

		stat_add(&c->st.tx_dropped, out_write(&c->out[0], p, len));
		out_write(&c->out[1], p, len);
	}
	stat_add(&c->st.tx_bytes, ch->out_len);
}

static void tx_process(struct virtio_console *c)
{
	struct virtq *vq = c->vq[TXQ];
	struct virtq_chain ch = { .iov = c->iov, .iov_cap = CON_QSIZE };
	unsigned int budget = CON_BUDGET;
	bool pushed = false;

	for (;;) {
		virtq_disable_notify(vq);
		while (budget) {
			enum virtq_pop_result r = virtq_pop(vq, &ch);

			if (r == VIRTQ_EMPTY)
				break;
			if (r == VIRTQ_BROKEN) {
				c->queue_dead[TXQ] = true;
				virtio_pci_needs_reset(&c->t);
				goto out;
			}
			if (r == VIRTQ_OK && !ch.nin)
				tx_chain(c, &ch);
			else
				stat_add(&c->st.bad_chains, 1);
			virtq_push(vq, ch.head, 0);
			pushed = true;
			budget--;
		}
		if (!budget) {
			/* Let other handlers run; notifications are off, so
			 * come back through our own kick. */
			virtio_dev_rekick(c->kick[TXQ]);
			break;
		}
		if (!virtq_enable_notify(vq))
			break;
	}
out:
	if (pushed)
		con_irq(c, TXQ);
}

/* ---- input ---- */

static void rx_process(struct virtio_console *c)
{
	struct virtq *vq = c->vq[RXQ];
	struct virtq_chain ch = { .iov = c->iov, .iov_cap = CON_QSIZE };
	bool pushed = false;

	if (c->queue_dead[RXQ])
		return;
	pthread_mutex_lock(&c->in_lock);
	while (c->in_len) {
		enum virtq_pop_result r = virtq_pop(vq, &ch);
		size_t done = 0;

		if (r == VIRTQ_EMPTY) {
			/* Wait for the guest's kick, unless it just added. */
			if (virtq_enable_notify(vq))
				continue;
			break;
		}
		if (r == VIRTQ_BROKEN) {
			c->queue_dead[RXQ] = true;
			virtio_pci_needs_reset(&c->t);
			break;
		}
		if (r != VIRTQ_OK || ch.nout || !ch.in_len) {
			stat_add(&c->st.bad_chains, 1);
			virtq_push(vq, ch.head, 0);
			pushed = true;
			continue;
		}
		while (c->in_len && done < ch.in_len) {
			size_t n = CON_IN_MAX - c->in_head;

			if (n > c->in_len)
				n = c->in_len;
			if (n > ch.in_len - done)
				n = ch.in_len - done;
			virtq_chain_write(&ch, done, c->in_buf + c->in_head, n);
			done += n;
			c->in_head = (c->in_head + n) % CON_IN_MAX;
			c->in_len -= n;
		}
		virtq_push(vq, ch.head, (uint32_t)done);
		stat_add(&c->st.rx_bytes, done);
		pushed = true;
	}
	pthread_mutex_unlock(&c->in_lock);
	if (pushed)
		con_irq(c, RXQ);
}

size_t virtio_console_input(struct virtio_console *c, const uint8_t *buf,
			    size_t n)
{
	size_t take, tail;
	uint64_t one = 1;

	pthread_mutex_lock(&c->in_lock);
	take = CON_IN_MAX - c->in_len;
	if (take > n)
		take = n;
	tail = (c->in_head + c->in_len) % CON_IN_MAX;
	for (size_t done = 0; done < take;) {
		size_t k = CON_IN_MAX - tail;

		if (k > take - done)
			k = take - done;
		memcpy(c->in_buf + tail, buf + done, k);
		done += k;
		tail = (tail + k) % CON_IN_MAX;
	}
	c->in_len += take;
	pthread_mutex_unlock(&c->in_lock);
	if (take < n)
		stat_add(&c->st.in_refused, n - take);
	if (take && write(c->in_evfd, &one, sizeof(one)) < 0) {
		/* counter saturated: the I/O thread will wake anyway */
	}
	return take;
}

/* ---- I/O thread handlers ---- */

static void on_rx_kick(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;

	(void)events;
	stat_add(&c->st.rx_kicks, virtio_dev_drain(c->kick[RXQ]));
	rx_process(c);
}

static void on_input(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;

	(void)events;
	virtio_dev_drain(c->in_evfd);
	rx_process(c);
}

static void on_tx_kick(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;

	(void)events;
	stat_add(&c->st.tx_kicks, virtio_dev_drain(c->kick[TXQ]));
	if (!c->queue_dead[TXQ])
		tx_process(c);
}

/* ---- transport callbacks ---- */

static void con_config_read(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct virtio_console *c = dev;

	memcpy(data, c->config + off, len);
}

static int con_set_features(void *dev, uint64_t features)
{
	(void)dev;
	(void)features;
	return 0;
}

static void con_unwatch(struct virtio_console *c)
{
	const int fds[] = { c->kick[RXQ], c->kick[TXQ], c->in_evfd };

	virtio_dev_unwatch(c->loop, fds, 3);
}

static int con_activate(void *dev)
{
	struct virtio_console *c = dev;

	for (unsigned int q = 0; q < CON_NQUEUES; q++)
		c->queue_dead[q] = false;
	if (virtio_dev_bind_queues(&c->t, CON_NQUEUES, c->vq, c->kick) < 0)
		return -1;
	return virtio_dev_watch(c->loop, (const struct virtio_dev_watch[]){
		{ c->kick[RXQ], on_rx_kick },
		{ c->kick[TXQ], on_tx_kick },
		{ c->in_evfd, on_input },
	}, 3, c);
}

static void con_reset(void *dev)
{
	struct virtio_console *c = dev;

	/* Once these return no handler runs; queued input stays for the next
	 * driver. */
	con_unwatch(c);
	c->vq[RXQ] = c->vq[TXQ] = NULL;
}

/* Every chain is returned in the handler that took it: pausing is only
 * stopping the I/O thread. Input typed meanwhile waits in in_buf. */
static void con_pause(void *dev)
{
	ev_loop_pause(((struct virtio_console *)dev)->loop);
}

static void con_resume(void *dev)
{
	struct virtio_console *c = dev;
	uint64_t one = 1;

	ev_loop_resume(c->loop);
	/* Input that arrived while paused. */
	if (write(c->in_evfd, &one, sizeof(one)) < 0) {
		/* saturated: pending anyway */
	}
}

static const struct virtio_dev_ops con_ops = {
	.config_read = con_config_read,
	.set_features = con_set_features,
	.activate = con_activate,
	.reset = con_reset,
	.pause = con_pause,
	.resume = con_resume,
};

/* ---- construction ---- */

static void out_init(struct con_out *o, int fd)
{
	struct stat st;

	*o = (struct con_out){ .fd = fd };
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		o->regular = true;
}

struct virtio_console *virtio_console_new(int out_fd, int log_fd,
					  const struct guest_mem *mem,
					  struct msix_sink sink,
					  struct rv_err *err)
{
	struct virtio_console *c = calloc(1, sizeof(*c));
	struct virtio_pci_config cfg;
	struct winsize ws;
	uint16_t cols = 80, rows = 25;

	if (!c) {
		rv_fail(err, "virtio-console: out of memory");
		return NULL;
	}
	out_init(&c->out[0], out_fd);
	out_init(&c->out[1], log_fd);
	if (out_fd >= 0 && ioctl(out_fd, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col && ws.ws_row) {
		cols = ws.ws_col;
		rows = ws.ws_row;
	}
	put_le16(c->config, cols);
	put_le16(c->config + 2, rows);
	c->config[4] = 1;                 /* max_nr_ports (MULTIPORT only) */
	pthread_mutex_init(&c->in_lock, NULL);
	c->in_evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->in_evfd < 0) {
		rv_fail_errno(err, "virtio-console: eventfd");
		goto fail;
	}
	c->loop = ev_loop_new("virtio-console", err);
	if (!c->loop || ev_loop_start(c->loop, err) < 0)
		goto fail;
	cfg = (struct virtio_pci_config){
		.device_type = VIRTIO_ID_CONSOLE,
		.class_code = 0x078000,      /* communication, other */
		.features = 1ull << VIRTIO_CONSOLE_F_SIZE,
		.nqueues = CON_NQUEUES,
		.queue_max = CON_QSIZE,
		.config_len = CON_CONFIG_LEN,
		.ops = &con_ops,
		.dev = c,
		.mem = mem,
		.sink = sink,
	};
	if (virtio_pci_init(&c->t, &cfg, err) < 0)
		goto fail;
	return c;
fail:
	ev_loop_free(c->loop);
	if (c->in_evfd >= 0)
		close(c->in_evfd);
	pthread_mutex_destroy(&c->in_lock);
	free(c);
	return NULL;
}

void virtio_console_free(struct virtio_console *c)
{
	if (!c)
		return;
	virtio_pci_destroy(&c->t);
	ev_loop_free(c->loop);
	close(c->in_evfd);
	pthread_mutex_destroy(&c->in_lock);
	free(c);
}

struct virtio_pci *virtio_console_transport(struct virtio_console *c)
{
	return &c->t;
}

struct ev_loop *virtio_console_loop(struct virtio_console *c)
{
	return c->loop;
}

void virtio_console_print_stats(struct virtio_console *c, const char *prefix,
				FILE *out)
{
	const struct virtio_dev_stat rows[] = {
		{ "tx_bytes", &c->st.tx_bytes, "bytes" },
		{ "tx_dropped", &c->st.tx_dropped, "bytes" },
		{ "rx_bytes", &c->st.rx_bytes, "bytes" },
		{ "input_refused", &c->st.in_refused, "bytes" },
		{ "rx_kicks", &c->st.rx_kicks, "notifications" },
		{ "tx_kicks", &c->st.tx_kicks, "notifications" },
		{ "interrupts", &c->st.irqs, "interrupts" },
		{ "bad_chains", &c->st.bad_chains, "chains" },
	};

	virtio_dev_print_stats(out, prefix, rows,
			       sizeof(rows) / sizeof(rows[0]));
}

/* ---- snapshot ---- */

#define CON_SECTION_VERSION 1

void virtio_console_save(struct virtio_console *c, struct state_writer *w,
			 const char *name)
{
	char sec[STATE_NAME_MAX + 1];

	snprintf(sec, sizeof(sec), "%s.console", name);
	state_begin(w, sec, CON_SECTION_VERSION);
	/* The terminal size the guest was told (input not yet delivered is
	 * the host's, not the guest's: it stays behind). */
	state_put_bytes(w, c->config, CON_CONFIG_LEN);
	state_end(w);
	virtio_pci_save(&c->t, w, name);
}

int virtio_console_load(struct virtio_console *c,
			const struct state_reader *r, const char *name,
			struct rv_err *err)
{
	char sec[STATE_NAME_MAX + 1];
	struct state_cursor cur;
	uint8_t cfg[CON_CONFIG_LEN];

	snprintf(sec, sizeof(sec), "%s.console", name);
	if (state_section(r, sec, CON_SECTION_VERSION, &cur, NULL, err) < 0)
		return -1;
	state_get_bytes(&cur, cfg, sizeof(cfg));
	if (state_cursor_finish(&cur, err) < 0)
		return -1;
	memcpy(c->config, cfg, sizeof(cfg));
	return virtio_pci_load(&c->t, r, name, err);
}
