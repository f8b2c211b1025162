/* libFuzzer target: a hostile vhost-user frontend against ringvm's back
 * end (vhost/vhost_user_backend.c, vhost/vhost_user.c). The input is a
 * byte stream of messages; each is sent as written, except that
 * SET_MEM_TABLE carries one memfd per region it claims (up to 8),
 * SET_INFLIGHT_FD the memfd too, and SET_VRING_KICK/CALL/ERR an eventfd, so memory tables get mapped and
 * rings get started over real shared memory. The device behind the back
 * end is a stand-in that only counts activations, so what is fuzzed is
 * the protocol state machine: every message must end in a reply, a
 * refusal or a closed connection, never a crash, a leak or a hang.
 *
 * Built with -DFUZZ_SEEDS it is instead a program writing the seed
 * corpus to the directory given as argv[1] (tests/fuzz/run.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost/vhost_user.h"
#include "vhost/vhost_user_backend.h"

#define RAM (64 * 1024)

struct stand_in {
	unsigned int active;
	uint8_t config[32];
};

static void cfg_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct stand_in *s = dev;

	if (off + len > sizeof(s->config))   /* the back end checked it */
		abort();
	memcpy(data, s->config + off, len);
}

static int set_features(void *dev, uint64_t f)
{
	(void)dev;
	return f & 1 ? -1 : 0;   /* refuse some, to reach that path */
}

static int activate(void *dev)
{
	((struct stand_in *)dev)->active++;
	return 0;
}

static void reset(void *dev)
{
	struct stand_in *s = dev;

	if (!s->active)
		abort();             /* reset without activate */
	s->active--;
}

static void nop(void *dev)
{
	(void)dev;
}

static const struct virtio_dev_ops ops = {
	.config_read = cfg_read,
	.set_features = set_features,
	.activate = activate,
	.reset = reset,
	.pause = nop,
	.resume = nop,
};

static void fuzz_one(const uint8_t *data, size_t size)
{
	struct stand_in dev = { 0 };
	struct virtio_served_dev model = {
		.device_type = 2, .nqueues = 4, .queue_max = 256,
		.features = 1ULL << 9, .config_len = sizeof(dev.config),
		.ops = &ops, .dev = &dev,
	};
	struct vhu_backend *be;
	struct rv_err err;
	int sv[2], memfd, efd;
	size_t off = 0;

	be = vhu_backend_new("fuzz", &err);
	if (!be || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	vhu_backend_set_device(be, &model);
	memfd = memfd_create("fuzz-ram", 0);
	efd = eventfd(0, EFD_NONBLOCK);
	if (memfd < 0 || efd < 0 || ftruncate(memfd, RAM) < 0)
		abort();
	/* Send every whole message; the socket buffer holds an input. */
	while (size - off >= VHU_HDR_SIZE) {
		struct vhu_msg m;
		uint32_t hdr[3];
		size_t plen;
		int fds[VHU_MAX_FDS];
		unsigned int nfds = 0;

		memcpy(hdr, data + off, sizeof(hdr));
		off += VHU_HDR_SIZE;
		plen = hdr[2] < size - off ? hdr[2] : size - off;
		if (plen > sizeof(m.p))
			plen = sizeof(m.p);
		m.request = hdr[0];
		m.flags = hdr[1];
		m.size = (uint32_t)plen;
		memcpy(&m.p, data + off, plen);
		off += plen;
		if (m.request == VHU_SET_MEM_TABLE && plen >= 4)
			for (; nfds < m.p.mem.nregions && nfds < VHU_MAX_FDS; nfds++)
				fds[nfds] = memfd;
		if (m.request >= VHU_SET_VRING_KICK &&
		    m.request <= VHU_SET_VRING_ERR)
			fds[nfds++] = efd;
		if (m.request == VHU_SET_INFLIGHT_FD)
			fds[nfds++] = memfd;
		if (vhu_send(sv[0], &m, fds, nfds, &err) < 0)
			break;
	}
	shutdown(sv[0], SHUT_WR);
	(void)vhu_backend_serve(be, sv[1], -1, &err);
	if (dev.active)
		abort();             /* the connection's end resets it */
	vhu_backend_free(be);
	close(sv[0]);
	close(sv[1]);
	close(memfd);
	close(efd);
}

#ifndef FUZZ_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}

#else

/* ---- seed corpus: a frontend setting up one queue ---- */

struct seed {
	uint8_t buf[4096];
	size_t len;
};

static void put(struct seed *s, uint32_t req, uint32_t flags,
		const void *payload, uint32_t plen)
{
	uint32_t hdr[3] = { req, VHU_VERSION | flags, plen };

	memcpy(s->buf + s->len, hdr, sizeof(hdr));
	s->len += sizeof(hdr);
	if (plen)
		memcpy(s->buf + s->len, payload, plen);
	s->len += plen;
}

static void put_u64(struct seed *s, uint32_t req, uint64_t v)
{
	put(s, req, VHU_FLAG_NEED_REPLY, &v, sizeof(v));
}

static void put_state(struct seed *s, uint32_t req, uint32_t i, uint32_t n)
{
	struct vhu_vring_state st = { i, n };

	put(s, req, VHU_FLAG_NEED_REPLY, &st, sizeof(st));
}

static int write_seed(const char *dir, const char *name, const struct seed *s)
{
	char path[4096];
	FILE *f;

	fuzz_one(s->buf, s->len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct seed s = { .len = 0 };
	struct vhu_mem_table t = { .nregions = 1 };
	struct vhu_vring_addr a = { .desc = 0x1000, .avail = 0x2000,
				    .used = 0x3000 };
	struct vhu_config c = { .offset = 0, .size = 8 };
	int rc = 0;

	if (argc != 2)
		return 2;
	put(&s, VHU_GET_FEATURES, 0, NULL, 0);
	put_u64(&s, VHU_SET_FEATURES,
		1ULL << VHOST_USER_F_PROTOCOL_FEATURES | 1ULL << 32);
	put(&s, VHU_GET_PROTOCOL_FEATURES, 0, NULL, 0);
	put_u64(&s, VHU_SET_PROTOCOL_FEATURES,
		1ULL << VHU_PROTOCOL_F_REPLY_ACK | 1ULL << VHU_PROTOCOL_F_CONFIG);
	put(&s, VHU_GET_CONFIG, 0, &c, VHU_CONFIG_HDR + 8);
	t.region[0] = (struct vhu_mem_region){ .gpa = 0, .size = RAM,
					       .uaddr = 0x7f0000000000ULL };
	put(&s, VHU_SET_MEM_TABLE, VHU_FLAG_NEED_REPLY, &t, 8 + 32);
	put_state(&s, VHU_SET_VRING_NUM, 0, 16);
	a.desc += 0x7f0000000000ULL;
	a.avail += 0x7f0000000000ULL;
	a.used += 0x7f0000000000ULL;
	put(&s, VHU_SET_VRING_ADDR, VHU_FLAG_NEED_REPLY, &a, sizeof(a));
	put_state(&s, VHU_SET_VRING_BASE, 0, 0);
	put_u64(&s, VHU_SET_VRING_CALL, 0);
	put_u64(&s, VHU_SET_VRING_KICK, 0);
	put_state(&s, VHU_SET_VRING_ENABLE, 0, 1);
	rc |= write_seed(argv[1], "setup", &s);
	put_state(&s, VHU_GET_VRING_BASE, 0, 0);
	put(&s, VHU_RESET_DEVICE, 0, NULL, 0);
	rc |= write_seed(argv[1], "setup-stop-reset", &s);
	return rc ? 1 : 0;
}

#endif
