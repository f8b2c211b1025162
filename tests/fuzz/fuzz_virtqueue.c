/* libFuzzer target: the input is a whole hostile guest -- ring placement,
 * queue size, negotiated features, starting indices, the contents of two
 * small RAM regions (descriptor table, available ring, indirect tables,
 * buffers) and a script of driver/device actions. The device side runs
 * pop/push/notify until the queue is empty or broken; any crash, hang,
 * ASan or UBSan report is a bug.
 *
 * Input layout (missing bytes read as zero):
 *   [0]      cfg: bits 0-2 log2(size), 3 EVENT_IDX, 4 INDIRECT,
 *            5 ring addresses from [3..8] instead of the fixed layout,
 *            6-7 the device's iovec capacity is size >> (bits 6-7)
 *   [1..2]   starting index (le16) for avail/used
 *   [3..8]   desc/avail/used gpa (le16 each) when cfg bit 5
 *   [9..40]  script, one op per byte (see run_op)
 *   [41..]   guest RAM image: region 0 then region 1
 *
 * Each region is its own exact-size heap block, so any access a byte past
 * either one is an ASan report, including a buffer straddling the two.
 *
 * Built with -DFUZZ_SEEDS it is instead a program writing the seed
 * corpus to the directory given as argv[1] (tests/fuzz/run.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/guest_mem.h"
#include "virtio/virtqueue.h"

#define REGION_SIZE 4096u
#define HDR_CFG     0
#define HDR_START   1
#define HDR_GPAS    3
#define HDR_SCRIPT  9
#define SCRIPT_LEN  32
#define HDR_LEN     (HDR_SCRIPT + SCRIPT_LEN)
#define MAX_SIZE    128

/* Fixed layout (cfg bit 5 clear): all rings in region 0, the descriptor
 * table flush with its end so that reading one entry too many is an ASan
 * report rather than a silent read of the next area. */
#define FIX_AVAIL   0x000u
#define FIX_USED    0x108u
#define FIX_DESC(qsize) (REGION_SIZE - 16u * (qsize))

struct fuzz_vm {
	struct guest_mem mem;
	struct virtq vq;
	struct iovec iov[MAX_SIZE];
	unsigned int iov_cap;
	uint8_t scratch[256];
	unsigned int written;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Every segment must lie inside one region: checked independently of
 * guest_mem_ptr, then its first and last bytes touched under ASan. */
static void check_chain(struct fuzz_vm *vm, const struct virtq_chain *c)
{
	size_t total = 0;

	if (c->nout + c->nin > c->iov_cap || c->out_len + c->in_len > UINT32_MAX)
		abort();
	for (unsigned int k = 0; k < c->nout + c->nin; k++) {
		const uint8_t *p = c->iov[k].iov_base;
		size_t len = c->iov[k].iov_len;
		bool inside = false;

		for (unsigned int r = 0; r < vm->mem.nr; r++) {
			const uint8_t *base = vm->mem.region[r].hva;

			if (p >= base && len <= REGION_SIZE &&
			    (size_t)(p - base) <= REGION_SIZE - len)
				inside = true;
		}
		if (!inside || len == 0)
			abort();
		vm->written += p[0] + p[len - 1];
		total += len;
	}
	if (total != c->out_len + c->in_len)
		abort();
}

/* Pops and completes one chain; false once the queue is empty/broken. */
static bool serve_one(struct fuzz_vm *vm)
{
	struct virtq_chain c = { .iov = vm->iov, .iov_cap = vm->iov_cap };
	size_t n;

	switch (virtq_pop(&vm->vq, &c)) {
	case VIRTQ_OK:
		check_chain(vm, &c);
		n = virtq_chain_read(&c, 1, vm->scratch, sizeof(vm->scratch));
		if (n > sizeof(vm->scratch) || n > c.out_len)
			abort();
		n = virtq_chain_write(&c, 0, vm->scratch, sizeof(vm->scratch));
		if (n > c.in_len)
			abort();
		virtq_push(&vm->vq, c.head, (uint32_t)n);
		return true;
	case VIRTQ_BAD_CHAIN:
		if (c.nout || c.nin || c.head >= vm->vq.size)
			abort();
		virtq_push(&vm->vq, c.head, 0);
		return true;
	case VIRTQ_EMPTY:
	case VIRTQ_BROKEN:
		break;
	}
	return false;
}

/* One scripted step: the device serves, decides about interrupts or
 * toggles kicks; or the "driver" moves avail->idx (by up to 63, so the
 * jump may exceed the queue size). */
static void run_op(struct fuzz_vm *vm, uint8_t op)
{
	uint16_t *avail_idx = (uint16_t *)vm->vq.avail + 1;

	switch (op & 3) {
	case 0:
		for (unsigned int k = 0; k <= (op >> 2); k++)
			if (!serve_one(vm))
				break;
		break;
	case 1:
		(void)virtq_should_notify(&vm->vq);
		break;
	case 2:
		if (op & 4)
			virtq_disable_notify(&vm->vq);
		else
			(void)virtq_enable_notify(&vm->vq);
		break;
	case 3:
		__atomic_store_n(avail_idx, (uint16_t)(*avail_idx + (op >> 2)),
				 __ATOMIC_RELEASE);
		(void)virtq_avail_count(&vm->vq);
		break;
	}
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_LEN] = { 0 };
	struct fuzz_vm *vm = calloc(1, sizeof(*vm));
	uint16_t qsize, start;
	uint64_t d, a = FIX_AVAIL, u = FIX_USED;
	size_t img = size > HDR_LEN ? size - HDR_LEN : 0;
	struct rv_err err;

	if (!vm)
		abort();
	memcpy(hdr, data, size < HDR_LEN ? size : HDR_LEN);
	for (unsigned int r = 0; r < 2; r++) {
		size_t off = r * REGION_SIZE, n = 0;
		uint8_t *p = calloc(1, REGION_SIZE);

		if (!p)
			abort();
		if (img > off)
			n = img - off < REGION_SIZE ? img - off : REGION_SIZE;
		if (n)
			memcpy(p, data + HDR_LEN + off, n);
		vm->mem.region[r] = (struct guest_region){
			.gpa = r * REGION_SIZE, .size = REGION_SIZE, .hva = p,
		};
	}
	vm->mem.nr = 2;
	vm->mem.ram_size = 2 * REGION_SIZE;

	qsize = (uint16_t)(1u << (hdr[HDR_CFG] & 7));
	d = FIX_DESC(qsize);
	vm->iov_cap = qsize >> (hdr[HDR_CFG] >> 6);
	if (hdr[HDR_CFG] & 0x20) {
		d = get16(hdr + HDR_GPAS);
		a = get16(hdr + HDR_GPAS + 2);
		u = get16(hdr + HDR_GPAS + 4);
	}
	if (virtq_init(&vm->vq, &vm->mem, qsize, d, a, u, hdr[HDR_CFG] & 8,
		       hdr[HDR_CFG] & 16, &err) == 0) {
		start = get16(hdr + HDR_START);
		vm->vq.last_avail = vm->vq.used_idx = start;
		vm->vq.signalled_used = start;
		for (unsigned int k = 0; k < SCRIPT_LEN; k++)
			run_op(vm, hdr[HDR_SCRIPT + k]);
		/* Drain, bounded: at most size entries are pending, but
		 * writable buffers may overlap avail->idx, so what the device
		 * writes can publish more -- a guest can keep a queue busy
		 * forever, only never make one pop run unbounded. */
		for (unsigned int k = 0; k < 4u * MAX_SIZE; k++)
			if (!serve_one(vm))
				break;
		(void)virtq_should_notify(&vm->vq);
	}
	free(vm->mem.region[0].hva);
	free(vm->mem.region[1].hva);
	free(vm);
}

#ifndef FUZZ_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}

#else

/* ---- seed corpus: well-formed rings a driver would build ---- */

struct seed {
	uint8_t b[HDR_LEN + 2 * REGION_SIZE];
	size_t len;
};

static void put16(struct seed *s, size_t gpa, uint16_t v)
{
	s->b[HDR_LEN + gpa] = (uint8_t)v;
	s->b[HDR_LEN + gpa + 1] = (uint8_t)(v >> 8);
	if (HDR_LEN + gpa + 2 > s->len)
		s->len = HDR_LEN + gpa + 2;
}

static void put_desc(struct seed *s, size_t gpa, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	for (int k = 0; k < 8; k++)
		s->b[HDR_LEN + gpa + k] = (uint8_t)(addr >> (8 * k));
	for (int k = 0; k < 4; k++)
		s->b[HDR_LEN + gpa + 8 + k] = (uint8_t)(len >> (8 * k));
	put16(s, gpa + 12, flags);
	put16(s, gpa + 14, next);
}

static void seed_init(struct seed *s, uint8_t cfg, uint16_t start)
{
	memset(s, 0, sizeof(*s));
	s->b[HDR_CFG] = cfg;
	s->b[HDR_START] = (uint8_t)start;
	s->b[HDR_START + 1] = (uint8_t)(start >> 8);
	/* Default script: serve everything, decide, re-enable, serve. */
	s->b[HDR_SCRIPT + 0] = 0xfc;
	s->b[HDR_SCRIPT + 1] = 1;
	s->b[HDR_SCRIPT + 2] = 2;
	s->b[HDR_SCRIPT + 3] = 0x0f;
	s->b[HDR_SCRIPT + 4] = 0xfc;
	s->b[HDR_SCRIPT + 5] = 1;
	s->len = HDR_LEN;
}

/* Puts head into avail slot i (relative to start) and sets avail->idx. */
static void publish(struct seed *s, uint16_t qsize, uint16_t start,
		    unsigned int i, uint16_t head)
{
	put16(s, FIX_AVAIL + 4 + 2 * ((start + i) % qsize), head);
	put16(s, FIX_AVAIL + 2, (uint16_t)(start + i + 1));
}

/* Writes the seed and runs it once, so a seed that crashes the target
 * shows up here, outside libFuzzer. */
static int write_seed(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *f;

	fuzz_one(s->b, s->len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->len, f) != s->len || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct seed *s = malloc(sizeof(*s));
	int rc = 0;

	if (argc != 2 || !s) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	/* Size 8: one read-only + one writable descriptor. */
	seed_init(s, 3, 0);
	put_desc(s, FIX_DESC(8), 0x1000, 64, 1, 1);
	put_desc(s, FIX_DESC(8) + 16, 0x1100, 128, 2, 0);
	publish(s, 8, 0, 0, 0);
	rc |= write_seed(argv[1], "simple", s);

	/* EVENT_IDX + INDIRECT, size 16: a 3-entry table flush with the end
	 * of region 1 and a direct chain, indices about to wrap. */
	seed_init(s, 4 | 8 | 16, 65534);
	put_desc(s, 0x1fd0, 0x1100, 16, 1, 1);
	put_desc(s, 0x1fe0, 0x1200, 512, 3, 2);
	put_desc(s, 0x1ff0, 0x1400, 1, 2, 0);
	put_desc(s, FIX_DESC(16), 0x1fd0, 48, 4, 0);
	put_desc(s, FIX_DESC(16) + 16, 0x1800, 8, 0, 0);
	publish(s, 16, 65534, 0, 0);
	publish(s, 16, 65534, 1, 1);
	publish(s, 16, 65534, 2, 0);
	put16(s, FIX_AVAIL + 4 + 2 * 16, 65535);     /* used_event */
	rc |= write_seed(argv[1], "indirect-event-wrap", s);

	/* Rings placed by the input, size 4, no interrupts wanted. */
	seed_init(s, 2 | 0x20, 7);
	s->b[HDR_GPAS] = 0x00; s->b[HDR_GPAS + 1] = 0x02;      /* 0x200 */
	s->b[HDR_GPAS + 2] = 0x40; s->b[HDR_GPAS + 3] = 0x02;  /* 0x240 */
	s->b[HDR_GPAS + 4] = 0x80; s->b[HDR_GPAS + 5] = 0x02;  /* 0x280 */
	put_desc(s, 0x200, 0xff0, 32, 1, 1);   /* spans the two regions */
	put_desc(s, 0x210, 0x300, 8, 2, 0);
	put16(s, 0x240, 1);
	put16(s, 0x244 + 2 * (7 % 4), 0);
	put16(s, 0x242, 8);
	rc |= write_seed(argv[1], "placed-rings", s);

	/* A loop, and a script that keeps publishing more. */
	seed_init(s, 3, 0);
	put_desc(s, FIX_DESC(8), 0x1000, 8, 1, 1);
	put_desc(s, FIX_DESC(8) + 16, 0x1000, 8, 1, 0);
	publish(s, 8, 0, 0, 0);
	for (int k = 0; k < SCRIPT_LEN; k += 2) {
		s->b[HDR_SCRIPT + k] = 0x07;
		s->b[HDR_SCRIPT + k + 1] = 0x04;
	}
	rc |= write_seed(argv[1], "loop-republish", s);
	free(s);
	return rc ? 1 : 0;
}

#endif
