/* vnotify: what a virtio notification costs to its completion, measured by
 * a bare-metal guest (a PVH kernel, vnotify_pvh.S) that drives the
 * machine's virtio-rng device itself: PCI configuration through ports
 * 0xcf8/0xcfc, the modern virtio-pci capabilities (virtio 1.2, 4.1.4),
 * one split virtqueue (2.7) without an interrupt vector, then N times: one
 * 16-byte buffer made available, the queue's doorbell written, and the
 * used ring polled until the device has returned it. RDTSC around the N
 * round trips; the same kernel runs under ringvm (--rng) and under QEMU
 * (-device virtio-rng-pci,disable-legacy=on), so the figure compares the
 * two VMMs' notify-to-completion paths in the same machine.
 *
 * Prints on the serial port (0x3f8) "VNOTIFY_CYCLES C N" (C cycles for N
 * round trips) or "VNOTIFY_ERROR what". Freestanding: no libc. */
#include <stdint.h>

#define N_TRIPS 2000
#define QSIZE 8 /* QEMU's virtio-rng queue has 8 entries */

#define PCI_VENDOR_VIRTIO 0x1af4
#define PCI_DEVICE_RNG 0x1044 /* modern-only virtio-rng (0x1040 + 4) */
#define PCI_CAP_VENDOR 0x09
#define CAP_COMMON 1
#define CAP_NOTIFY 2

#define STATUS_ACK 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define VRING_DESC_F_WRITE 2
#define NO_VECTOR 0xffff

/* Common configuration structure offsets (4.1.4.3). */
#define CC_DFSELECT 0x00
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX 0x10
#define CC_STATUS 0x14
#define CC_QSELECT 0x16
#define CC_QSIZE 0x18
#define CC_QMSIX 0x1a
#define CC_QENABLE 0x1c
#define CC_QNOTIFYOFF 0x1e
#define CC_QDESC 0x20
#define CC_QDRIVER 0x28
#define CC_QDEVICE 0x30

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* The ring's memory, static (identity-mapped like everything here). */
static struct vdesc desc[QSIZE] __attribute__((aligned(16)));
static volatile uint16_t avail[2 + QSIZE] __attribute__((aligned(2)));
static volatile uint16_t used[2 + 4 * QSIZE] __attribute__((aligned(4)));
static uint8_t buf[16];

static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p)); }
static inline uint32_t inl(uint16_t p)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
static inline uint8_t inb(uint16_t p)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
static inline void barrier(void) { __asm__ volatile("mfence" ::: "memory"); }

static void putc_serial(char c)
{
	while (!(inb(0x3fd) & 0x20)) /* line status: transmitter empty */
		;
	outb(0x3f8, (uint8_t)c);
}
static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}
static void putu(uint64_t v)
{
	char d[24];
	int n = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		putc_serial(d[--n]);
}

static uint32_t cfg_read(unsigned int dev, unsigned int off)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	return inl(0xcfc);
}
static void cfg_write(unsigned int dev, unsigned int off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	outl(0xcfc, v);
}

static uint64_t bar_addr(unsigned int dev, unsigned int bar)
{
	uint32_t lo = cfg_read(dev, 0x10 + 4 * bar);
	uint64_t a = lo & ~0xfu;

	if ((lo & 0x6) == 0x4) /* 64-bit memory BAR */
		a |= (uint64_t)cfg_read(dev, 0x14 + 4 * bar) << 32;
	return a;
}

static int fail(const char *what)
{
	puts_serial("VNOTIFY_ERROR ");
	puts_serial(what);
	puts_serial("\n");
	return 1;
}

#define MMIO8(a) (*(volatile uint8_t *)(uintptr_t)(a))
#define MMIO16(a) (*(volatile uint16_t *)(uintptr_t)(a))
#define MMIO32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define MMIO64(a) (*(volatile uint64_t *)(uintptr_t)(a))

int vnotify_main(void);
int vnotify_main(void)
{
	unsigned int dev;
	uint64_t common = 0, notify = 0, t0, t1;
	uint32_t mult = 0;
	uint16_t size, idx = 0;

	for (dev = 0; dev < 32; dev++)
		if (cfg_read(dev, 0) == (PCI_DEVICE_RNG << 16 | PCI_VENDOR_VIRTIO))
			break;
	if (dev == 32)
		return fail("no modern virtio-rng device on PCI bus 0");
	cfg_write(dev, 0x04, cfg_read(dev, 0x04) | 0x6); /* memory space, bus master */
	for (unsigned int cap = cfg_read(dev, 0x34) & 0xfc; cap; ) {
		uint32_t w0 = cfg_read(dev, cap);
		unsigned int type = (w0 >> 24) & 0xff, bar = cfg_read(dev, cap + 4) & 0xff;
		uint64_t at = bar_addr(dev, bar) + cfg_read(dev, cap + 8);

		if ((w0 & 0xff) == PCI_CAP_VENDOR && type == CAP_COMMON && !common)
			common = at;
		if ((w0 & 0xff) == PCI_CAP_VENDOR && type == CAP_NOTIFY && !notify) {
			notify = at;
			mult = cfg_read(dev, cap + 16);
		}
		cap = (w0 >> 8) & 0xfc;
	}
	if (!common || !notify)
		return fail("no common or notify capability");
	if (common >= 0x100000000ull || notify >= 0x100000000ull)
		return fail("a BAR above 4 GiB (not mapped here)");

	MMIO8(common + CC_STATUS) = 0; /* reset, then wait for it (4.1.4.3.2) */
	while (MMIO8(common + CC_STATUS))
		;
	MMIO8(common + CC_STATUS) = STATUS_ACK | STATUS_DRIVER;
	MMIO32(common + CC_GFSELECT) = 1; /* VIRTIO_F_VERSION_1, bit 32 */
	MMIO32(common + CC_GF) = 1;
	MMIO32(common + CC_GFSELECT) = 0;
	MMIO32(common + CC_GF) = 0;
	MMIO8(common + CC_STATUS) = STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK;
	if (!(MMIO8(common + CC_STATUS) & STATUS_FEATURES_OK))
		return fail("the device refused VERSION_1 alone");
	MMIO16(common + CC_MSIX) = NO_VECTOR;
	MMIO16(common + CC_QSELECT) = 0;
	size = MMIO16(common + CC_QSIZE);
	if (size < QSIZE)
		return fail("queue 0 is smaller than 8");
	MMIO16(common + CC_QSIZE) = QSIZE;
	MMIO16(common + CC_QMSIX) = NO_VECTOR; /* polled: no interrupt */
	MMIO64(common + CC_QDESC) = (uintptr_t)desc;
	MMIO64(common + CC_QDRIVER) = (uintptr_t)avail;
	MMIO64(common + CC_QDEVICE) = (uintptr_t)used;
	notify += (uint64_t)MMIO16(common + CC_QNOTIFYOFF) * mult;
	MMIO16(common + CC_QENABLE) = 1;
	MMIO8(common + CC_STATUS) = STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK |
				    STATUS_DRIVER_OK;

	desc[0] = (struct vdesc){ (uintptr_t)buf, sizeof(buf), VRING_DESC_F_WRITE, 0 };
	t0 = rdtsc();
	for (unsigned int i = 0; i < N_TRIPS; i++) {
		avail[2 + idx % QSIZE] = 0;
		barrier();
		avail[1] = ++idx; /* avail->idx */
		barrier();
		MMIO16(notify) = 0; /* the doorbell: queue 0 */
		while (used[1] != idx) /* used->idx: the device returned it */
			__asm__ volatile("pause");
	}
	t1 = rdtsc();
	puts_serial("VNOTIFY_CYCLES ");
	putu(t1 - t0);
	puts_serial(" ");
	putu(N_TRIPS);
	puts_serial("\n");
	return 0;
}
