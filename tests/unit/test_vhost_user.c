/* vhost-user: message framing (vhost/vhost_user.c) and ringvm's back end
 * (vhost/vhost_user_backend.c) serving a real virtio-blk device to a
 * frontend written here, over a socketpair, with guest RAM in a memfd
 * both sides map: the messages QEMU sends to set up a disk, requests
 * through the ring, and hostile messages that must end in a refusal,
 * never a crash. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit/virtq_driver.h"
#include "util/le.h"
#include "vhost/vhost_user.h"
#include "vhost/vhost_user_backend.h"
#include "virtio/blk.h"
#include "virtio/blk_req.h"

#include "unit/virtq_driver.c"

#define RAM_SIZE  (1u << 20)
#define DISK_SIZE (1u << 20)
#define QSIZE     16
#define RING_GPA  0x1000
#define HDR_GPA   0x10000
#define DATA_GPA  0x20000
#define STAT_GPA  0x30000

/* ---- framing ---- */

static void test_roundtrip_with_fds(void **state)
{
	int sv[2], efd[2];
	struct vhu_msg m, r;
	struct rv_err err;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	efd[0] = eventfd(0, 0);
	efd[1] = eventfd(0, 0);
	vhu_msg_init(&m, VHU_SET_MEM_TABLE, 0, 8 + 2 * 32);
	m.p.mem.nregions = 2;
	m.p.mem.region[1].gpa = 0x1234;
	assert_int_equal(vhu_send(sv[0], &m, efd, 2, &err), 0);
	assert_int_equal(vhu_recv(sv[1], &r, &err), 1);
	assert_int_equal(r.request, VHU_SET_MEM_TABLE);
	assert_int_equal(r.size, 8 + 2 * 32);
	assert_int_equal(r.p.mem.nregions, 2);
	assert_int_equal(r.p.mem.region[1].gpa, 0x1234);
	assert_int_equal(r.nfds, 2);
	/* The received fd is the same eventfd. */
	assert_int_equal(eventfd_write(r.fds[1], 7), 0);
	{
		eventfd_t v;

		assert_int_equal(eventfd_read(efd[1], &v), 0);
		assert_int_equal(v, 7);
	}
	vhu_msg_close_fds(&r);
	assert_int_equal(r.nfds, 0);
	/* An orderly end of stream at a message boundary. */
	close(sv[0]);
	assert_int_equal(vhu_recv(sv[1], &r, &err), 0);
	close(sv[1]);
	close(efd[0]);
	close(efd[1]);
}

static void send_raw(int fd, uint32_t req, uint32_t flags, uint32_t size,
		     const void *payload, size_t plen)
{
	uint32_t hdr[3] = { req, flags, size };

	assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	if (plen)
		assert_int_equal(write(fd, payload, plen), (ssize_t)plen);
}

/* Returns vhu_recv's result on a stream holding exactly the bytes given. */
static int recv_raw(uint32_t req, uint32_t flags, uint32_t size,
		    const void *payload, size_t plen, struct rv_err *err)
{
	struct vhu_msg m;
	int sv[2], rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	send_raw(sv[0], req, flags, size, payload, plen);
	close(sv[0]);
	rc = vhu_recv(sv[1], &m, err);
	if (rc > 0)
		vhu_msg_close_fds(&m);
	close(sv[1]);
	return rc;
}

static void test_malformed_messages(void **state)
{
	uint8_t zeros[4096] = { 0 };
	struct rv_err err;

	(void)state;
	/* Wrong version. */
	assert_int_equal(recv_raw(VHU_GET_FEATURES, 2, 0, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "version"));
	/* A payload that does not fit its request. */
	assert_int_equal(recv_raw(VHU_SET_FEATURES, 1, 4, zeros, 4, &err), -1);
	assert_non_null(strstr(err.msg, "SET_FEATURES"));
	assert_int_equal(recv_raw(VHU_SET_VRING_ADDR, 1, 8, zeros, 8, &err), -1);
	assert_int_equal(recv_raw(VHU_SET_MEM_TABLE, 1, 8 + 31, zeros, 39, &err), -1);
	assert_int_equal(recv_raw(VHU_SET_MEM_TABLE, 1, 8 + 9 * 32, zeros,
				  8 + 9 * 32, &err), -1);
	assert_int_equal(recv_raw(VHU_GET_CONFIG, 1, 12 + 257, zeros, 269, &err), -1);
	/* Absurd sizes are refused before anything is read. */
	assert_int_equal(recv_raw(99, 1, 0xffffffffu, NULL, 0, &err), -1);
	/* Truncated: header promises more than the stream holds. */
	assert_int_equal(recv_raw(VHU_SET_FEATURES, 1, 8, zeros, 3, &err), -1);
	assert_non_null(strstr(err.msg, "ended"));
	/* A header cut short. */
	{
		int sv[2];
		struct vhu_msg m;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_int_equal(write(sv[0], zeros, 5), 5);
		close(sv[0]);
		assert_int_equal(vhu_recv(sv[1], &m, &err), -1);
		close(sv[1]);
	}
	/* A well-formed unknown request passes framing (the handler
	 * refuses it). */
	assert_int_equal(recv_raw(200, 1, 4, zeros, 4, &err), 1);
}

/* ---- the back end serving a frontend written here ---- */

struct rig {
	int memfd;
	struct guest_mem ram;          /* the frontend's view */
	char disk[64];
	int disk_fd;
	struct vhu_backend *be;
	struct virtio_blk *blk;
	int sock;                      /* frontend end */
	int be_sock;
	pthread_t thread;
	bool joined;
	int serve_rc;
	struct rv_err serve_err;
	int kick, call;
	struct vqd d;
};

static void *serve_thread(void *arg)
{
	struct rig *r = arg;

	r->serve_rc = vhu_backend_serve(r->be, r->be_sock, -1, &r->serve_err);
	return NULL;
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct guest_region layout = { .gpa = 0, .size = RAM_SIZE };
	uint64_t off = 0;
	struct virtio_blk_opts o = { .queue_size = QSIZE };
	struct virtio_served_dev model = { 0 };
	struct rv_err err;
	int sv[2];

	assert_non_null(r);
	r->memfd = memfd_create("vhu-test-ram", MFD_CLOEXEC);
	assert_true(r->memfd >= 0);
	assert_int_equal(ftruncate(r->memfd, RAM_SIZE), 0);
	assert_int_equal(guest_mem_map_shared(&r->ram, &layout, 1, &r->memfd,
					      &off, &err), 0);
	strcpy(r->disk, "/tmp/ringvm-vhu-XXXXXX");
	r->disk_fd = mkstemp(r->disk);
	assert_true(r->disk_fd >= 0);
	assert_int_equal(ftruncate(r->disk_fd, DISK_SIZE), 0);
	o.path = r->disk;
	o.force_sync = true;
	r->be = vhu_backend_new("test", &err);
	assert_non_null(r->be);
	r->blk = virtio_blk_new_served(&o, vhu_backend_mem(r->be),
				       vhu_backend_queue_host(r->be), &model,
				       &err);
	assert_non_null(r->blk);
	assert_int_equal(model.device_type, VIRTIO_ID_BLOCK);
	vhu_backend_set_device(r->be, &model);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	r->sock = sv[0];
	r->be_sock = sv[1];
	r->kick = eventfd(0, EFD_CLOEXEC);
	r->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(pthread_create(&r->thread, NULL, serve_thread, r), 0);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	close(r->sock);
	if (!r->joined)
		pthread_join(r->thread, NULL);
	close(r->be_sock);
	virtio_blk_free(r->blk);
	vhu_backend_free(r->be);
	guest_mem_unmap(&r->ram);
	close(r->memfd);
	close(r->disk_fd);
	unlink(r->disk);
	close(r->kick);
	close(r->call);
	free(r);
	return 0;
}

static void fe_send(struct rig *r, struct vhu_msg *m, const int *fds,
		    unsigned int nfds)
{
	struct rv_err err;

	assert_int_equal(vhu_send(r->sock, m, fds, nfds, &err), 0);
}

static void fe_reply(struct rig *r, uint32_t request, struct vhu_msg *out)
{
	struct rv_err err;

	assert_int_equal(vhu_recv(r->sock, out, &err), 1);
	assert_int_equal(out->request, request);
	assert_true(out->flags & VHU_FLAG_REPLY);
}

static uint64_t fe_get_u64(struct rig *r, uint32_t request)
{
	struct vhu_msg m;

	vhu_msg_init(&m, request, 0, 0);
	fe_send(r, &m, NULL, 0);
	fe_reply(r, request, &m);
	assert_int_equal(m.size, 8);
	return m.p.u64;
}

/* Sends with NEED_REPLY and returns the REPLY_ACK status. */
static uint64_t fe_acked(struct rig *r, struct vhu_msg *m, const int *fds,
			 unsigned int nfds)
{
	struct vhu_msg a;

	m->flags |= VHU_FLAG_NEED_REPLY;
	fe_send(r, m, fds, nfds);
	fe_reply(r, m->request, &a);
	assert_int_equal(a.size, 8);
	return a.p.u64;
}

static void fe_state(struct rig *r, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhu_msg m;

	vhu_msg_init(&m, req, 0, sizeof(m.p.state));
	m.p.state.index = index;
	m.p.state.num = num;
	assert_int_equal(fe_acked(r, &m, NULL, 0), 0);
}

/* What QEMU does for a vhost-user-blk device with one queue. */
static void fe_setup(struct rig *r)
{
	uint64_t features = fe_get_u64(r, VHU_GET_FEATURES);
	uint64_t protocol;
	struct vhu_msg m;
	uint8_t *ram = r->ram.region[0].hva;

	assert_true(features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES));
	assert_true(features & (1ULL << VIRTIO_F_VERSION_1));
	assert_true(features & (1ULL << VIRTIO_BLK_F_FLUSH));
	vhu_msg_u64(&m, VHU_SET_FEATURES, 0,
		    1ULL << VHOST_USER_F_PROTOCOL_FEATURES |
			    1ULL << VIRTIO_F_VERSION_1 |
			    1ULL << VIRTIO_BLK_F_FLUSH);
	fe_send(r, &m, NULL, 0);
	protocol = fe_get_u64(r, VHU_GET_PROTOCOL_FEATURES);
	assert_true(protocol & (1ULL << VHU_PROTOCOL_F_REPLY_ACK));
	assert_true(protocol & (1ULL << VHU_PROTOCOL_F_CONFIG));
	vhu_msg_u64(&m, VHU_SET_PROTOCOL_FEATURES, 0, protocol);
	fe_send(r, &m, NULL, 0);
	assert_int_equal(fe_get_u64(r, VHU_GET_QUEUE_NUM), 1);

	/* The capacity in the config space is the image's. */
	vhu_msg_init(&m, VHU_GET_CONFIG, 0, VHU_CONFIG_HDR + VIRTIO_BLK_CFG_LEN);
	m.p.config.size = VIRTIO_BLK_CFG_LEN;
	fe_send(r, &m, NULL, 0);
	fe_reply(r, VHU_GET_CONFIG, &m);
	assert_int_equal(m.size, VHU_CONFIG_HDR + VIRTIO_BLK_CFG_LEN);
	assert_int_equal(get_le64(m.p.config.data + VIRTIO_BLK_CFG_CAPACITY),
			 DISK_SIZE / 512);

	/* The memory table: guest RAM at gpa 0, "mapped" by the frontend at
	 * its own address. */
	vhu_msg_init(&m, VHU_SET_MEM_TABLE, 0, 8 + 32);
	m.p.mem.nregions = 1;
	m.p.mem.region[0] = (struct vhu_mem_region){
		.gpa = 0, .size = RAM_SIZE, .uaddr = (uintptr_t)ram,
		.mmap_offset = 0,
	};
	assert_int_equal(fe_acked(r, &m, &r->memfd, 1), 0);

	assert_int_equal(vqd_init(&r->d, &r->ram, QSIZE, RING_GPA), 0);
	fe_state(r, VHU_SET_VRING_NUM, 0, QSIZE);
	vhu_msg_init(&m, VHU_SET_VRING_ADDR, 0, sizeof(m.p.addr));
	m.p.addr.desc = (uintptr_t)ram + r->d.desc_gpa;
	m.p.addr.avail = (uintptr_t)ram + r->d.avail_gpa;
	m.p.addr.used = (uintptr_t)ram + r->d.used_gpa;
	assert_int_equal(fe_acked(r, &m, NULL, 0), 0);
	fe_state(r, VHU_SET_VRING_BASE, 0, 0);
	vhu_msg_u64(&m, VHU_SET_VRING_CALL, 0, 0);
	assert_int_equal(fe_acked(r, &m, &r->call, 1), 0);
	vhu_msg_u64(&m, VHU_SET_VRING_KICK, 0, 0);
	assert_int_equal(fe_acked(r, &m, &r->kick, 1), 0);
	fe_state(r, VHU_SET_VRING_ENABLE, 0, 1);
}

/* One request: header, data (out or in), status; kicks and waits for the
 * call eventfd. Returns the status byte. */
static uint8_t fe_request(struct rig *r, uint32_t type, uint64_t sector,
			  uint32_t len)
{
	uint8_t hdr[16] = { 0 }, status = 0xee;
	struct vqd_seg segs[3] = {
		{ HDR_GPA, 16, false },
		{ DATA_GPA, len, type == VIRTIO_BLK_T_IN },
		{ STAT_GPA, 1, true },
	};
	struct pollfd p = { r->call, POLLIN, 0 };
	uint32_t id, used_len;
	eventfd_t v;

	put_le32(hdr, type);
	put_le64(hdr + 8, sector);
	assert_int_equal(guest_mem_write(&r->ram, HDR_GPA, hdr, 16), 0);
	assert_int_equal(guest_mem_write(&r->ram, STAT_GPA, &status, 1), 0);
	if (len)
		vqd_publish(&r->d, vqd_add(&r->d, segs, 3));
	else
		vqd_publish(&r->d, vqd_add(&r->d, (struct vqd_seg[]){ segs[0], segs[2] }, 2));
	assert_int_equal(eventfd_write(r->kick, 1), 0);
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(eventfd_read(r->call, &v), 0);
	assert_true(vqd_get_used(&r->d, &id, &used_len));
	assert_int_equal(guest_mem_read(&r->ram, STAT_GPA, &status, 1), 0);
	return status;
}

static void test_serves_requests(void **state)
{
	struct rig *r = *state;
	uint8_t pattern[4096], back[4096];
	struct vhu_msg m;

	fe_setup(r);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(guest_mem_write(&r->ram, DATA_GPA, pattern, 4096), 0);
	assert_int_equal(fe_request(r, VIRTIO_BLK_T_OUT, 8, 4096), VIRTIO_BLK_S_OK);
	/* On the image, byte for byte, at sector 8. */
	assert_int_equal(pread(r->disk_fd, back, 4096, 8 * 512), 4096);
	assert_memory_equal(back, pattern, 4096);
	/* And back through the ring. */
	memset(back, 0, sizeof(back));
	assert_int_equal(guest_mem_write(&r->ram, DATA_GPA, back, 4096), 0);
	assert_int_equal(fe_request(r, VIRTIO_BLK_T_IN, 8, 4096), VIRTIO_BLK_S_OK);
	assert_int_equal(guest_mem_read(&r->ram, DATA_GPA, back, 4096), 0);
	assert_memory_equal(back, pattern, 4096);
	assert_int_equal(fe_request(r, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	/* Out of range: an error status, the device goes on. */
	assert_int_equal(fe_request(r, VIRTIO_BLK_T_IN, DISK_SIZE / 512, 512),
			 VIRTIO_BLK_S_IOERR);

	/* Stopping the ring reports where the frontend resumes. */
	vhu_msg_init(&m, VHU_GET_VRING_BASE, 0, sizeof(m.p.state));
	fe_send(r, &m, NULL, 0);
	fe_reply(r, VHU_GET_VRING_BASE, &m);
	assert_int_equal(m.p.state.index, 0);
	assert_int_equal(m.p.state.num, 4);
}

static void test_refusals_keep_connection(void **state)
{
	struct rig *r = *state;
	struct vhu_msg m;

	fe_setup(r);
	/* Not a power of two; a queue that does not exist; features never
	 * offered: each refused with a non-zero REPLY_ACK, and the
	 * connection goes on. */
	vhu_msg_init(&m, VHU_SET_VRING_NUM, 0, sizeof(m.p.state));
	m.p.state.num = 3;
	assert_int_not_equal(fe_acked(r, &m, NULL, 0), 0);
	vhu_msg_init(&m, VHU_SET_VRING_NUM, 0, sizeof(m.p.state));
	m.p.state.index = 5;
	m.p.state.num = 16;
	assert_int_not_equal(fe_acked(r, &m, NULL, 0), 0);
	vhu_msg_u64(&m, VHU_SET_FEATURES, 0, 1ULL << 60);
	assert_int_not_equal(fe_acked(r, &m, NULL, 0), 0);
	/* Rings outside the memory table: the queue does not start. */
	vhu_msg_init(&m, VHU_SET_VRING_ADDR, 0, sizeof(m.p.addr));
	m.p.addr.desc = 0x10;
	m.p.addr.avail = 0x20;
	m.p.addr.used = 0x40;
	assert_int_equal(fe_acked(r, &m, NULL, 0), 0);
	/* Still answering. */
	assert_int_equal(fe_get_u64(r, VHU_GET_QUEUE_NUM), 1);
	/* A request it does not implement, without REPLY_ACK: the
	 * connection ends with a message naming it. */
	vhu_msg_init(&m, VHU_SET_LOG_BASE, 0, 16);
	fe_send(r, &m, NULL, 0);
	pthread_join(r->thread, NULL);
	r->joined = true;
	assert_int_equal(r->serve_rc, -1);
	assert_non_null(strstr(r->serve_err.msg, "SET_LOG_BASE"));
}

static void test_mem_table_fd_mismatch(void **state)
{
	struct rig *r = *state;
	struct vhu_msg m;

	(void)fe_get_u64(r, VHU_GET_FEATURES);
	vhu_msg_u64(&m, VHU_SET_PROTOCOL_FEATURES, 0,
		    1ULL << VHU_PROTOCOL_F_REPLY_ACK);
	fe_send(r, &m, NULL, 0);
	/* Two regions, one fd. */
	vhu_msg_init(&m, VHU_SET_MEM_TABLE, 0, 8 + 64);
	m.p.mem.nregions = 2;
	m.p.mem.region[0].size = 4096;
	m.p.mem.region[1].gpa = 0x100000;
	m.p.mem.region[1].size = 4096;
	assert_int_not_equal(fe_acked(r, &m, &r->memfd, 1), 0);
	/* Regions the fd cannot back: an unaligned offset, and one past the
	 * file's end (touching it would kill the back end with SIGBUS). */
	vhu_msg_init(&m, VHU_SET_MEM_TABLE, 0, 8 + 32);
	m.p.mem.nregions = 1;
	m.p.mem.region[0].size = 4096;
	m.p.mem.region[0].mmap_offset = 100;
	assert_int_not_equal(fe_acked(r, &m, &r->memfd, 1), 0);
	m.p.mem.region[0].size = 2 * RAM_SIZE;
	m.p.mem.region[0].mmap_offset = 0;
	assert_int_not_equal(fe_acked(r, &m, &r->memfd, 1), 0);
	m.p.mem.region[0].size = RAM_SIZE;
	m.p.mem.region[0].mmap_offset = 4096;
	assert_int_not_equal(fe_acked(r, &m, &r->memfd, 1), 0);
	assert_int_equal(fe_get_u64(r, VHU_GET_QUEUE_NUM), 1);
}

/* In-flight tracking: the back end hands out a region (an fd the
 * frontend keeps), and takes one back from a frontend only when nothing
 * in it is still marked (it does not resubmit). */
static void test_inflight_fd(void **state)
{
	struct rig *r = *state;
	struct vhu_msg m, rep;
	struct rv_err err;
	size_t len = virtq_inflight_bytes(QSIZE);
	uint8_t *p;
	int fd;

	(void)fe_get_u64(r, VHU_GET_FEATURES);
	vhu_msg_u64(&m, VHU_SET_PROTOCOL_FEATURES, 0,
		    1ULL << VHU_PROTOCOL_F_REPLY_ACK |
			    1ULL << VHU_PROTOCOL_F_INFLIGHT_SHMFD);
	fe_send(r, &m, NULL, 0);
	vhu_msg_init(&m, VHU_GET_INFLIGHT_FD, 0, sizeof(m.p.inflight));
	m.p.inflight.num_queues = 1;
	m.p.inflight.queue_size = QSIZE;
	fe_send(r, &m, NULL, 0);
	assert_int_equal(vhu_recv(r->sock, &rep, &err), 1);
	assert_int_equal(rep.request, VHU_GET_INFLIGHT_FD);
	assert_int_equal(rep.nfds, 1);
	assert_true(rep.p.inflight.mmap_size >= len);
	fd = vhu_msg_take_fd(&rep, 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	/* Handed back clean: taken. */
	vhu_msg_init(&m, VHU_SET_INFLIGHT_FD, 0, sizeof(m.p.inflight));
	m.p.inflight.mmap_size = len;
	m.p.inflight.num_queues = 1;
	m.p.inflight.queue_size = QSIZE;
	assert_int_equal(fe_acked(r, &m, &fd, 1), 0);
	/* With a request still marked: refused. */
	((struct virtq_inflight *)p)->desc[3].inflight = 1;
	vhu_msg_init(&m, VHU_SET_INFLIGHT_FD, 0, sizeof(m.p.inflight));
	m.p.inflight.mmap_size = len;
	m.p.inflight.num_queues = 1;
	m.p.inflight.queue_size = QSIZE;
	assert_int_not_equal(fe_acked(r, &m, &fd, 1), 0);
	/* More queues than the device has: refused. */
	m.p.inflight.num_queues = 9;
	assert_int_not_equal(fe_acked(r, &m, &fd, 1), 0);
	munmap(p, len);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_with_fds),
		cmocka_unit_test(test_malformed_messages),
		cmocka_unit_test_setup_teardown(test_serves_requests, rig_setup,
						rig_teardown),
		cmocka_unit_test_setup_teardown(test_refusals_keep_connection,
						rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_mem_table_fd_mismatch,
						rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_inflight_fd, rig_setup,
						rig_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
