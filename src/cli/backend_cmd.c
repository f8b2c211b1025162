/* See backend_cmd.h. The order matters: everything that opens a file or a
 * socket (the image, io_uring, the listening socket, the stats file)
 * comes before the seccomp filter, which then allows only what serving
 * frontends takes. */
#include "cli/backend_cmd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "vhost/vhost_user_backend.h"
#include "virtio/blk.h"
#include "vm/sandbox.h"

#define DEFAULT_QUEUE_SIZE 128

/* A stale socket file (nobody accepts on it) is replaced; a live one or
 * any other file is left alone. */
static int listen_on(const char *path, struct rv_err *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return rv_fail(err, "--socket %.64s: path too long (at most %zu bytes)",
			       path, sizeof(a.sun_path) - 1);
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rv_fail_errno(err, "socket");
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			return rv_fail(err, "--socket %s: exists and is not a socket", path);
		}
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(fd);
			return rv_fail(err, "--socket %s: another process serves it", path);
		}
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
		rv_fail_errno(err, "--socket %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

struct sandbox_call {
	struct rv_err err;
	int rc;
};

static void enter_io(void *arg)
{
	struct sandbox_call *c = arg;

	c->rc = sandbox_enter(SANDBOX_IO, &c->err);
}

static int sandbox(struct virtio_blk *blk, struct rv_err *err)
{
	struct sandbox_call c = { .rc = -1 };

	if (sandbox_enter(SANDBOX_BACKEND, err) < 0)
		return -1;
	ev_loop_call(virtio_blk_loop(blk), enter_io, &c);
	if (c.rc < 0)
		return rv_fail(err, "%s", c.err.msg);
	return 0;
}

/* Accepts frontends one after another until a signal arrives. */
static void serve(struct vhu_backend *be, int lfd, int sfd, const char *path)
{
	for (;;) {
		struct pollfd p[2] = { { lfd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		struct rv_err err;
		int c, rc;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ringvm backend: poll: %s\n", strerror(errno));
			return;
		}
		if (p[1].revents)
			return;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		fprintf(stderr, "ringvm backend: %s: a frontend connected\n", path);
		rc = vhu_backend_serve(be, c, sfd, &err);
		close(c);
		if (rc < 0)
			fprintf(stderr, "ringvm backend: %s: frontend disconnected: %s\n",
				path, err.msg);
		else
			fprintf(stderr, "ringvm backend: %s: the frontend disconnected\n",
				path);
		if (rc == 1)
			return;
	}
}

int cli_backend(const struct cli_opts *o)
{
	const struct disk_config *d = &o->cfg.disk[0];
	struct virtio_blk_opts bo = {
		.path = d->path,
		.readonly = d->readonly,
		.direct = d->direct,
		.nqueues = o->queues ? o->queues : 1,
		.queue_size = (uint16_t)(o->queue_size ? o->queue_size
						       : DEFAULT_QUEUE_SIZE),
	};
	struct virtio_served_dev model = { 0 };
	struct vhu_backend *be = NULL;
	struct virtio_blk *blk = NULL;
	struct rv_err err = { { 0 } };
	FILE *stats = NULL;
	int lfd = -1, sfd = -1, rc = 1;
	sigset_t stop;

	/* SIGINT and SIGTERM end the back end through the signalfd; the
	 * device thread started below inherits the mask. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	sfd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (sfd < 0) {
		rv_fail_errno(&err, "signalfd");
		goto out;
	}
	if (o->cfg.stats_path && !(stats = fopen(o->cfg.stats_path, "we"))) {
		rv_fail_errno(&err, "--stats %s", o->cfg.stats_path);
		goto out;
	}
	be = vhu_backend_new(d->path, &err);
	if (!be)
		goto out;
	blk = virtio_blk_new_served(&bo, vhu_backend_mem(be),
				    vhu_backend_queue_host(be), &model, &err);
	if (!blk)
		goto out;
	vhu_backend_set_device(be, &model);
	lfd = listen_on(o->socket_path, &err);
	if (lfd < 0)
		goto out;
	if (o->cfg.seccomp && sandbox(blk, &err) < 0)
		goto out;
	serve(be, lfd, sfd, o->socket_path);
	rc = 0;
	unlink(o->socket_path);
	if (stats) {
		virtio_blk_print_stats(blk, "blk0", stats);
		vhu_backend_print_stats(be, "vhost_user", stats);
	}
out:
	if (rc)
		fprintf(stderr, "ringvm backend: %s\n", err.msg);
	if (lfd >= 0)
		close(lfd);
	virtio_blk_free(blk);
	vhu_backend_free(be);
	if (stats)
		fclose(stats);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
