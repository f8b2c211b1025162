/* See backend_cmd.h. The order matters: everything that opens a file or a
 * socket (the image, io_uring, the listening socket, the stats file)
 * comes before the seccomp filter, which then allows only what serving
 * frontends takes. */
#include "cli/backend_cmd.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
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
#include "virtio/net.h"
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

/* The device a back end serves, whichever kind. */
struct served {
	void *dev;
	struct ev_loop *loop;
	const char *prefix;            /* stats names: blk0_..., net0_... */
	void (*print_stats)(void *dev, const char *prefix, FILE *out);
	void (*free)(void *dev);
};

static void blk_stats(void *d, const char *p, FILE *o) { virtio_blk_print_stats(d, p, o); }
static void blk_free(void *d) { virtio_blk_free(d); }
static void net_stats(void *d, const char *p, FILE *o) { virtio_net_print_stats(d, p, o); }
static void net_free(void *d) { virtio_net_free(d); }

static int make_blk(const struct cli_opts *o, struct vhu_backend *be,
		    struct virtio_served_dev *model, struct served *sv,
		    struct rv_err *err)
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
	struct virtio_blk *b = virtio_blk_new_served(&bo, vhu_backend_mem(be),
						     vhu_backend_queue_host(be),
						     model, err);

	if (!b)
		return -1;
	*sv = (struct served){ b, virtio_blk_loop(b), "blk0", blk_stats,
			       blk_free };
	return 0;
}

static int make_net(const struct cli_opts *o, struct vhu_backend *be,
		    struct virtio_served_dev *model, struct served *sv,
		    struct rv_err *err)
{
	struct virtio_net_opts no = { .tap = o->backend_tap, .tap_fd = -1 };
	struct virtio_net *n;

	if (o->backend_mac_set)
		memcpy(no.mac, o->backend_mac, 6);
	else
		virtio_net_random_mac(no.mac);
	n = virtio_net_new_served(&no, vhu_backend_mem(be),
				  vhu_backend_queue_host(be), model, err);
	if (!n)
		return -1;
	*sv = (struct served){ n, virtio_net_loop(n), "net0", net_stats,
			       net_free };
	return 0;
}

static int sandbox(struct ev_loop *loop, struct rv_err *err)
{
	if (sandbox_enter(SANDBOX_BACKEND, err) < 0)
		return -1;
	return sandbox_enter_loop(loop, SANDBOX_IO, err);
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
	bool net = !strcmp(o->backend_kind, "net");
	struct virtio_served_dev model = { 0 };
	struct served sv = { 0 };
	struct vhu_backend *be = NULL;
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
	be = vhu_backend_new(net ? o->backend_tap : o->cfg.disk[0].path, &err);
	if (!be)
		goto out;
	if ((net ? make_net : make_blk)(o, be, &model, &sv, &err) < 0)
		goto out;
	vhu_backend_set_device(be, &model);
	lfd = listen_on(o->socket_path, &err);
	if (lfd < 0)
		goto out;
	if (o->cfg.seccomp && sandbox(sv.loop, &err) < 0)
		goto out;
	serve(be, lfd, sfd, o->socket_path);
	rc = 0;
	unlink(o->socket_path);
	if (stats) {
		sv.print_stats(sv.dev, sv.prefix, stats);
		vhu_backend_print_stats(be, "vhost_user", stats);
	}
out:
	if (rc)
		fprintf(stderr, "ringvm backend: %s\n", err.msg);
	if (lfd >= 0)
		close(lfd);
	if (sv.dev)
		sv.free(sv.dev);
	vhu_backend_free(be);
	if (stats)
		fclose(stats);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
