/* virtio-net driven the way a Linux guest drives it: through the virtio-pci
 * registers of BAR0 (features, queues, MSI-X, notifications) and split rings
 * written by tests/unit/virtq_driver. The back end is an AF_UNIX datagram
 * socketpair standing in for the TAP fd (same "virtio_net_hdr + frame"
 * records), plus one test on a real TAP interface when this host lets us
 * create one. Covers TX and RX bytes and headers, MRG_RXBUF merging, the
 * no-buffers stall (no busy loop, delivery resumes on kick), malformed
 * chains, a corrupt ring and recovery by reset, config space and stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "unit/virtio_pci_driver.h"
#include "unit/virtq_driver.h"
#include "virtio/net.h"
#include "virtio/virtio_pci.h"

#include "unit/virtq_driver.c"
#include "unit/virtio_pci_driver.c"
#include "unit/stats_text.h"

#define RAM        (4ull << 20)
#define RING0      0x10000ull
#define BUF        0x100000ull
#define QSIZE      256
#define NQ         2

#define F_CSUM       0
#define F_GUEST_CSUM 1
#define F_MAC        5
#define F_GUEST_TSO4 7
#define F_GUEST_TSO6 8
#define F_MRG_RXBUF  15
#define F_STATUS     16
#define F_CTRL_VQ    17
#define F_MQ         22
#define BIT(n)       (1ull << (n))

#define HDR 12

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct fx {
	struct guest_mem mem;
	int sv[2];               /* sv[1] given to the device */
	struct virtio_net *n;
	struct vpd drv;          /* transport, rings, MSI-X counts */
};

static uint64_t stat_of(struct fx *f, const char *name)
{
	char *buf = NULL;
	size_t sz = 0;
	FILE *m = open_memstream(&buf, &sz);
	uint64_t v;

	assert_non_null(m);
	virtio_net_print_stats(f->n, "net0", m);
	fclose(m);
	v = stats_lookup(buf, "net0", name);
	free(buf);
	return v;
}

static void make_pkt(uint8_t *p, size_t len, uint8_t seed)
{
	memset(p, 0, HDR);
	p[0] = 0;               /* flags */
	p[10] = 0x77;           /* num_buffers garbage: the device sets it */
	p[11] = 0x77;
	for (size_t i = HDR; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void inject(struct fx *f, const uint8_t *p, size_t len)
{
	assert_int_equal(send(f->sv[0], p, len, 0), (ssize_t)len);
}

/* ---- fixtures ---- */

static int setup_common(void **state, bool with_fd)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct guest_region layout = { .gpa = 0, .size = RAM };
	struct virtio_net_opts o = { .queue_size = QSIZE, .tap_fd = -1 };
	struct rv_err err;

	if (!f || guest_mem_map(&f->mem, &layout, 1, &err) < 0)
		return -1;
	vpd_init(&f->drv, &f->mem, NQ, QSIZE, RING0);
	f->sv[0] = f->sv[1] = -1;
	if (with_fd) {
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, f->sv) < 0)
			return -1;
		o.tap_fd = f->sv[1];
		memcpy(o.mac, test_mac, 6);
		f->n = virtio_net_new(&o, &f->mem,
				      vpd_msix_sink(&f->drv), &err);
		if (!f->n) {
			fprintf(stderr, "%s\n", err.msg);
			return -1;
		}
		f->drv.t = virtio_net_transport(f->n);
	}
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, true);
}

static int setup_bare(void **state)
{
	return setup_common(state, false);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_net_free(f->n);
	if (f->sv[0] >= 0)
		close(f->sv[0]);
	if (f->sv[1] >= 0)
		close(f->sv[1]);
	guest_mem_unmap(&f->mem);
	free(f);
	return 0;
}

#define STD_FEATURES (BIT(F_MAC) | BIT(F_STATUS) | BIT(F_CSUM) | \
		      BIT(VIRTIO_RING_F_EVENT_IDX) | \
		      BIT(VIRTIO_RING_F_INDIRECT_DESC))

/* ---- tests ---- */

static void test_config_and_features(void **state)
{
	struct fx *f = *state;
	uint64_t feat = vpd_device_features(f->drv.t);
	uint8_t id[2];

	pci_cfg_read(&f->drv.t->pci, PCI_DEVICE_ID, id, 2);
	assert_int_equal(id[0] | id[1] << 8, 0x1041);
	for (unsigned int i = 0; i < 6; i++)
		assert_int_equal(vpd_bar_read(f->drv.t, VIRTIO_PCI_DEVICE_OFF + i, 1),
				 test_mac[i]);
	assert_int_equal(vpd_bar_read(f->drv.t, VIRTIO_PCI_DEVICE_OFF + 6, 2), 1);
	assert_int_equal(vpd_bar_read(f->drv.t, VIRTIO_PCI_DEVICE_OFF + 8, 2), 1);
	assert_true(feat & BIT(F_MAC));
	assert_true(feat & BIT(F_STATUS));
	assert_true(feat & BIT(F_MRG_RXBUF));
	assert_true(feat & BIT(F_CSUM));
	assert_true(feat & BIT(F_GUEST_CSUM));
	assert_true(feat & BIT(VIRTIO_F_VERSION_1));
	/* An unserviced control queue hangs Linux: never offered. */
	assert_false(feat & BIT(F_CTRL_VQ));
	assert_false(feat & BIT(F_MQ));
	/* Reads past the config space are zero, not a crash. */
	assert_int_equal(vpd_bar_read(f->drv.t, VIRTIO_PCI_DEVICE_OFF + 12, 4), 0);
}

static void test_tx_frame_reaches_fd(void **state)
{
	struct fx *f = *state;
	uint8_t pkt[HDR + 200], got[512];
	uint32_t id, len;
	uint16_t head;

	vpd_setup(&f->drv, STD_FEATURES);
	make_pkt(pkt, sizeof(pkt), 3);
	pkt[0] = 1;                               /* NEEDS_CSUM */
	memcpy(vpd_guest(&f->drv, BUF, sizeof(pkt)), pkt, sizeof(pkt));
	/* Header and frame in separate descriptors, as Linux may do. */
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, HDR, false },
				       { BUF + HDR, 200, false } }, 2, &head);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(recv(f->sv[0], got, sizeof(got), MSG_DONTWAIT),
			 sizeof(pkt));
	assert_memory_equal(got, pkt, sizeof(pkt));
	assert_true(atomic_load(&f->drv.fired[1]) >= 1);
	assert_int_equal(stat_of(f, "tx_packets"), 1);
	assert_int_equal(stat_of(f, "tx_bytes"), 200);
}

static void test_tx_malformed_dropped(void **state)
{
	struct fx *f = *state;
	uint8_t pkt[HDR + 60], got[512];
	uint32_t id, len;
	uint16_t head;
	struct vqd *d = &f->drv.q[1];

	vpd_setup(&f->drv, STD_FEATURES);
	make_pkt(pkt, sizeof(pkt), 9);
	memcpy(vpd_guest(&f->drv, BUF, sizeof(pkt)), pkt, sizeof(pkt));

	/* Shorter than the header. */
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, 5, false } }, 1, &head);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	/* A device-writable segment on the transmit queue. */
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, sizeof(pkt), false },
				       { BUF + 0x1000, 64, true } }, 2, &head);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(id, head);
	/* A descriptor pointing outside guest RAM. */
	vqd_set_desc(d, 7, RAM - 16, 4096, 0, 0);
	vqd_set_avail_ring(d, d->avail_idx, 7);
	vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + 1));
	vpd_kick(&f->drv, 1);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(id, 7);
	assert_int_equal(len, 0);
	assert_int_equal(recv(f->sv[0], got, sizeof(got), MSG_DONTWAIT), -1);
	assert_int_equal(stat_of(f, "tx_bad_chains"), 3);
	assert_false(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_tx_after_malformed(void **state)
{
	struct fx *f = *state;
	uint8_t pkt[HDR + 90], got[512];
	uint32_t id, len;
	struct vqd *d = &f->drv.q[1];
	uint16_t old, head;

	vpd_setup(&f->drv, STD_FEATURES);
	vqd_set_desc(d, 3, BUF, 64, VIRTQ_DESC_F_NEXT, 3);   /* a loop */
	vqd_set_avail_ring(d, d->avail_idx, 3);
	vqd_set_avail_idx(d, (uint16_t)(d->avail_idx + 1));
	vpd_kick(&f->drv, 1);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(id, 3);
	assert_int_equal(len, 0);

	make_pkt(pkt, sizeof(pkt), 21);
	memcpy(vpd_guest(&f->drv, BUF, sizeof(pkt)), pkt, sizeof(pkt));
	old = d->avail_idx;
	head = vqd_add_indirect(d, (struct vqd_seg[]){ { BUF, HDR, false },
						       { BUF + HDR, 40, false },
						       { BUF + HDR + 40, 50, false } },
				3, BUF + 0x8000);
	vqd_publish(d, head);
	if (vqd_kick_needed(d, f->drv.event_idx, old))
		vpd_kick(&f->drv, 1);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(recv(f->sv[0], got, sizeof(got), MSG_DONTWAIT),
			 sizeof(pkt));
	assert_memory_equal(got, pkt, sizeof(pkt));
	assert_false(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_rx_frame_into_guest(void **state)
{
	struct fx *f = *state;
	uint8_t pkt[HDR + 300], big[HDR + 600];
	uint32_t id, len;
	uint16_t head;
	const uint8_t *b;

	vpd_setup(&f->drv, STD_FEATURES);      /* no MRG_RXBUF */
	memset(vpd_guest(&f->drv, BUF, 2048), 0xee, 2048);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 2048, true } }, 1, &head);
	make_pkt(pkt, sizeof(pkt), 5);
	pkt[0] = 2;                             /* DATA_VALID */
	inject(f, pkt, sizeof(pkt));
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, sizeof(pkt));
	b = vpd_guest(&f->drv, BUF, sizeof(pkt));
	assert_memory_equal(b, pkt, 10);        /* header as the TAP gave it */
	assert_int_equal(b[10] | b[11] << 8, 1);  /* num_buffers */
	assert_memory_equal(b + HDR, pkt + HDR, sizeof(pkt) - HDR);
	assert_int_equal(b[sizeof(pkt)], 0xee); /* nothing written beyond */
	assert_true(atomic_load(&f->drv.fired[0]) >= 1);

	/* Without MRG_RXBUF a frame larger than the buffer is dropped and the
	 * buffer serves the next frame. */
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 0x4000, 256, true } }, 1, &head);
	make_pkt(big, sizeof(big), 1);
	inject(f, big, sizeof(big));
	make_pkt(pkt, 100, 8);
	inject(f, pkt, 100);
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 100);
	assert_memory_equal(vpd_guest(&f->drv, BUF + 0x4000 + HDR, 88), pkt + HDR, 88);
	assert_int_equal(stat_of(f, "rx_dropped"), 1);
	assert_int_equal(stat_of(f, "rx_packets"), 2);
}

static void test_rx_mergeable(void **state)
{
	struct fx *f = *state;
	uint8_t pkt[150], out[150];
	uint32_t id[3], len[3];
	uint16_t h[3];

	vpd_setup(&f->drv, STD_FEATURES | BIT(F_MRG_RXBUF));
	/* Two small buffers take one 112-byte record. */
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 64, true } }, 1, &h[0]);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 0x1000, 64, true } }, 1, &h[1]);
	make_pkt(pkt, 112, 4);
	inject(f, pkt, 112);
	for (int i = 0; i < 2; i++) {
		assert_true(vpd_wait_used(&f->drv, 0, &id[i], &len[i]));
		assert_int_equal(id[i], h[i]);
	}
	assert_int_equal(len[0], 64);
	assert_int_equal(len[1], 48);
	memcpy(out, vpd_guest(&f->drv, BUF, 64), 64);
	memcpy(out + 64, vpd_guest(&f->drv, BUF + 0x1000, 48), 48);
	assert_int_equal(out[10] | out[11] << 8, 2);
	assert_memory_equal(out + HDR, pkt + HDR, 100);

	/* A 150-byte record waits, unpublished, until a third buffer comes:
	 * the driver must never see num_buffers entries it cannot find. */
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 64, true } }, 1, &h[0]);
	make_pkt(pkt, 150, 11);
	inject(f, pkt, 150);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 0x1000, 64, true } }, 1, &h[1]);
	usleep(100 * 1000);
	assert_false(vqd_get_used(&f->drv.q[0], &id[0], &len[0]));
	assert_true(vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 0x2000, 64, true } },
			 1, &h[2]));
	for (int i = 0; i < 3; i++) {
		assert_true(vpd_wait_used(&f->drv, 0, &id[i], &len[i]));
		assert_int_equal(id[i], h[i]);
	}
	assert_int_equal(len[0] + len[1] + len[2], 150);
	assert_int_equal(len[2], 22);
	memcpy(out, vpd_guest(&f->drv, BUF, 64), 64);
	memcpy(out + 64, vpd_guest(&f->drv, BUF + 0x1000, 64), 64);
	memcpy(out + 128, vpd_guest(&f->drv, BUF + 0x2000, 22), 22);
	assert_int_equal(out[10] | out[11] << 8, 3);
	assert_memory_equal(out + HDR, pkt + HDR, 150 - HDR);
}

/* CPU ticks (user + system) of the thread called `name`. */
static long thread_ticks(const char *name)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	long ticks = -1;

	assert_non_null(dir);
	while ((e = readdir(dir))) {
		char path[288], buf[512];
		FILE *fp;
		unsigned long ut, st;
		char *p;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		buf[0] = 0;
		if (!fgets(buf, sizeof(buf), fp))
			buf[0] = 0;
		fclose(fp);
		if (strncmp(buf, name, strlen(name)))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		if (fgets(buf, sizeof(buf), fp) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &ut, &st) == 2)
			ticks = (long)(ut + st);
		fclose(fp);
	}
	closedir(dir);
	return ticks;
}

static void test_rx_no_buffers_no_busy_loop(void **state)
{
	struct fx *f = *state;
	uint8_t pkt[3][HDR + 80];
	uint32_t id, len;
	uint16_t h[3];
	long t0, t1;

	vpd_setup(&f->drv, STD_FEATURES | BIT(F_MRG_RXBUF));
	for (int i = 0; i < 3; i++) {
		make_pkt(pkt[i], sizeof(pkt[i]), (uint8_t)(40 + i));
		inject(f, pkt[i], sizeof(pkt[i]));
	}
	usleep(50 * 1000);
	t0 = thread_ticks("virtio-net");
	assert_true(t0 >= 0);
	usleep(400 * 1000);
	t1 = thread_ticks("virtio-net");
	/* A loop spinning on the readable fd would burn ~40 ticks here. */
	assert_true(t1 - t0 <= 3);
	assert_true(stat_of(f, "rx_no_buffer_stalls") >= 1);
	assert_int_equal(stat_of(f, "rx_packets"), 0);
	assert_int_equal(stat_of(f, "rx_dropped"), 0);

	/* The device asked for a kick; buffers bring the frames in order. */
	for (int i = 0; i < 3; i++) {
		bool kicked = vpd_post(&f->drv, 0, (struct vqd_seg[]){
				{ BUF + 0x1000ull * i, 1536, true } }, 1, &h[i]);

		if (i == 0)
			assert_true(kicked);
	}
	for (int i = 0; i < 3; i++) {
		assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
		assert_int_equal(id, h[i]);
		assert_int_equal(len, sizeof(pkt[i]));
		assert_memory_equal(vpd_guest(&f->drv, BUF + 0x1000ull * i + HDR, 80),
				    pkt[i] + HDR, 80);
	}
	assert_int_equal(stat_of(f, "rx_packets"), 3);
}

static void test_broken_ring_and_reset(void **state)
{
	struct fx *f = *state;
	uint8_t pkt[HDR + 50], got[256];
	uint32_t id, len;
	uint16_t head;

	vpd_setup(&f->drv, STD_FEATURES | BIT(F_MRG_RXBUF));
	/* avail->idx jumps by more than the queue size. */
	vqd_set_avail_idx(&f->drv.q[0], QSIZE + 9);
	vpd_kick(&f->drv, 0);
	for (int i = 0; i < 2000 && !(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	assert_true(vpd_status(f->drv.t) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(atomic_load(&f->drv.fired[2]) >= 1);   /* config interrupt */

	/* A driver reload (reset + setup) brings it back. */
	vpd_setup(&f->drv, STD_FEATURES | BIT(F_MRG_RXBUF));
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 1536, true } }, 1, &head);
	make_pkt(pkt, sizeof(pkt), 77);
	inject(f, pkt, sizeof(pkt));
	assert_true(vpd_wait_used(&f->drv, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, sizeof(pkt));
	memcpy(vpd_guest(&f->drv, BUF + 0x2000, sizeof(pkt)), pkt, sizeof(pkt));
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF + 0x2000, sizeof(pkt), false } },
	     1, &head);
	assert_true(vpd_wait_used(&f->drv, 1, &id, &len));
	assert_int_equal(recv(f->sv[0], got, sizeof(got), MSG_DONTWAIT),
			 sizeof(pkt));
}

static void test_reset_stops_device(void **state)
{
	struct fx *f = *state;
	uint8_t pkt[HDR + 50];

	vpd_setup(&f->drv, STD_FEATURES);
	vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF, 1536, true } }, 1, NULL);
	vpd_bar_write(f->drv.t, 0x14, 0, 1);
	/* After reset returns the device does not touch the old rings. */
	make_pkt(pkt, sizeof(pkt), 1);
	inject(f, pkt, sizeof(pkt));
	usleep(100 * 1000);
	assert_int_equal(vqd_used_idx(&f->drv.q[0]), 0);
	assert_int_equal(stat_of(f, "rx_packets"), 0);
}

static void test_bad_options(void **state)
{
	struct fx *f = *state;
	struct virtio_net_opts o = { .tap = "", .queue_size = 256, .tap_fd = -1 };
	struct rv_err err = { { 0 } };

	assert_null(virtio_net_new(&o, &f->mem, (struct msix_sink){ 0 }, &err));
	assert_true(strlen(err.msg) > 0);
	o.tap = "rvtest";
	o.queue_size = 100;
	assert_null(virtio_net_new(&o, &f->mem, (struct msix_sink){ 0 }, &err));
	assert_non_null(strstr(err.msg, "power of two"));
}

/* ---- a real TAP interface ---- */

static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (s < 0)
		return -1;
	rc = ioctl(s, req, ifr);
	close(s);
	return rc;
}

static uint32_t ethtool_get(const char *ifname, uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	assert_int_equal(if_ioctl(SIOCETHTOOL, &ifr), 0);
	return ev.data;
}

/* Can this process create (and so delete again) a TAP named name? Says
 * why not when it cannot. */
static bool tap_possible(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		print_message("no TAPs here (/dev/net/tun: %s): real TAP NOT tested\n",
			      strerror(errno));
		return false;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		print_message("no TAPs here (TUNSETIFF: %s): real TAP NOT tested\n",
			      strerror(errno));
		close(fd);
		return false;
	}
	close(fd);          /* not persistent: the TAP goes with the fd */
	return true;
}

static void test_real_tap(void **state)
{
	struct fx *f = *state;
	char name[IFNAMSIZ], path[128];
	struct virtio_net_opts o = { .queue_size = QSIZE, .tap_fd = -1 };
	struct rv_err err;
	struct ifreq ifr;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	uint8_t frame[80], got[256];
	uint16_t ethertype = 0x88b5;    /* local experimental */
	int ps, fd;
	bool found = false;

	snprintf(name, sizeof(name), "rvt%d", (int)getpid() % 100000);
	/* Only an environment without TAPs (no /dev/net/tun, no
	 * CAP_NET_ADMIN) excuses this test; if the test itself can make a
	 * TAP, the device must too. */
	if (!tap_possible(name))
		skip();
	o.tap = name;
	memcpy(o.mac, test_mac, 6);
	f->n = virtio_net_new(&o, &f->mem,
			      vpd_msix_sink(&f->drv), &err);
	if (!f->n)
		fail_msg("virtio_net_new on a TAP this test could create: %s",
			 err.msg);
	f->drv.t = virtio_net_transport(f->n);

	/* Receive offloads follow what the driver negotiated. */
	vpd_setup(&f->drv, STD_FEATURES | BIT(F_MRG_RXBUF) | BIT(F_GUEST_CSUM) |
		  BIT(F_GUEST_TSO4) | BIT(F_GUEST_TSO6));
	assert_int_equal(ethtool_get(name, ETHTOOL_GTSO), 1);
	vpd_setup(&f->drv, STD_FEATURES | BIT(F_MRG_RXBUF));
	assert_int_equal(ethtool_get(name, ETHTOOL_GTSO), 0);
	assert_int_equal(ethtool_get(name, ETHTOOL_GTXCSUM), 0);

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 name);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		assert_int_equal(write(fd, "1", 1), 1);
		close(fd);
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	assert_int_equal(if_ioctl(SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(if_ioctl(SIOCSIFFLAGS, &ifr), 0);

	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ethertype));
	assert_true(ps >= 0);
	sll.sll_protocol = htons(ethertype);
	sll.sll_ifindex = (int)if_nametoindex(name);
	assert_true(sll.sll_ifindex > 0);
	assert_int_equal(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);

	/* Guest -> host: the frame shows up on the interface. */
	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, 6);
	memcpy(frame + 6, test_mac, 6);
	frame[12] = ethertype >> 8;
	frame[13] = ethertype & 0xff;
	for (int i = 14; i < 80; i++)
		frame[i] = (uint8_t)i;
	memset(vpd_guest(&f->drv, BUF, HDR), 0, HDR);
	memcpy(vpd_guest(&f->drv, BUF + HDR, sizeof(frame)), frame, sizeof(frame));
	vpd_post(&f->drv, 1, (struct vqd_seg[]){ { BUF, HDR + sizeof(frame), false } },
	     1, NULL);
	for (int i = 0; i < 200 && !found; i++) {
		ssize_t r = recv(ps, got, sizeof(got), MSG_DONTWAIT);

		if (r == (ssize_t)sizeof(frame) && !memcmp(got, frame, sizeof(frame)))
			found = true;
		else if (r < 0)
			usleep(5000);
	}
	assert_true(found);

	/* Host -> guest: a frame sent out of the interface lands in a guest
	 * buffer (skipping whatever else the kernel sends). */
	for (int i = 0; i < 16; i++)
		vpd_post(&f->drv, 0, (struct vqd_seg[]){ { BUF + 0x10000 + 0x1000ull * i,
						 2048, true } }, 1, NULL);
	frame[0] = 0x52;
	memcpy(frame, test_mac, 6);
	memcpy(sll.sll_addr, test_mac, 6);
	sll.sll_halen = 6;
	assert_int_equal(sendto(ps, frame, sizeof(frame), 0,
				(struct sockaddr *)&sll, sizeof(sll)),
			 sizeof(frame));
	found = false;
	for (int i = 0; i < 16 && !found; i++) {
		uint32_t id, len;
		const uint8_t *b;

		if (!vpd_wait_used(&f->drv, 0, &id, &len))
			break;
		b = vpd_guest(&f->drv, BUF + 0x10000 + 0x1000ull * id, 2048);
		if (len >= HDR + 14 && b[HDR + 12] == (ethertype >> 8) &&
		    b[HDR + 13] == (ethertype & 0xff)) {
			assert_true(len >= HDR + sizeof(frame));
			assert_memory_equal(b + HDR, frame, sizeof(frame));
			assert_int_equal(b[10] | b[11] << 8, 1);
			found = true;
		}
	}
	assert_true(found);
	close(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_and_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_frame_reaches_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_malformed_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_after_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_frame_into_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_no_buffers_no_busy_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_stops_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(test_real_tap, setup_bare, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
