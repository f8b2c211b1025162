/* io_probe: the measuring end of `make bench-io`, run the same way inside
 * the guest and on the host so the two figures are comparable.
 *
 *   io_probe randread PATH SECONDS [direct]   4 KiB random reads, QD1
 *   io_probe seqread  PATH SECONDS [direct]   1 MiB sequential reads
 *   io_probe tcp-recv PORT COUNT               accept COUNT connections,
 *                                              report each one's MB/s
 *   io_probe tcp-send HOST PORT SECONDS        send zeros for SECONDS
 *
 * Prints "RESULT NAME VALUE UNIT" lines. Static, no dependencies. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t dev_size(int fd)
{
	struct stat st;
	uint64_t sz = 0;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	if (ioctl(fd, BLKGETSIZE64, &sz) == 0)
		return sz;
	return 0;
}

static int file_bench(const char *what, const char *path, double secs,
		      int direct)
{
	int rnd = strcmp(what, "randread") == 0;
	size_t bs = rnd ? 4096 : 1 << 20;
	int fd = open(path, O_RDONLY | (direct ? O_DIRECT : 0));
	uint64_t size, blocks, ops = 0, bytes = 0, off = 0, x = 88172645463325252ull;
	void *buf;
	double t0, t;

	if (fd < 0) {
		fprintf(stderr, "io_probe: %s: %s\n", path, strerror(errno));
		return 1;
	}
	size = dev_size(fd);
	blocks = size / bs;
	if (blocks == 0 || posix_memalign(&buf, 4096, bs) != 0) {
		fprintf(stderr, "io_probe: %s too small\n", path);
		return 1;
	}
	t0 = now();
	do {
		ssize_t n;

		if (rnd) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift */
			off = (x % blocks) * bs;
		} else if (off + bs > size) {
			off = 0;
		}
		n = pread(fd, buf, bs, (off_t)off);
		if (n <= 0) {
			fprintf(stderr, "io_probe: read at %llu: %s\n",
				(unsigned long long)off, n < 0 ? strerror(errno) : "EOF");
			return 1;
		}
		if (!rnd)
			off += (uint64_t)n;
		ops++;
		bytes += (uint64_t)n;
		t = now() - t0;
	} while (t < secs);
	if (rnd)
		printf("RESULT randread_iops %.0f iops\n", ops / t);
	else
		printf("RESULT seqread_mbps %.1f MB/s\n", bytes / t / 1e6);
	return 0;
}

static int tcp_recv(int port, int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
	static char buf[1 << 16];

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0) {
		perror("io_probe: listen");
		return 1;
	}
	printf("RESULT listening %d port\n", port);
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		int c = accept(ls, NULL, NULL);
		uint64_t bytes = 0;
		double t0 = 0, t1;
		ssize_t n;

		if (c < 0)
			return 1;
		while ((n = read(c, buf, sizeof(buf))) > 0) {
			if (bytes == 0)
				t0 = now(); /* from the first byte: excludes connect */
			bytes += (uint64_t)n;
		}
		t1 = now();
		close(c);
		/* A connection that carried nothing is no throughput sample. */
		if (bytes == 0 || t1 <= t0)
			printf("RESULT tcp_empty_connection 1 count\n");
		else
			printf("RESULT tcp_mbps %.1f MB/s\n",
			       bytes / (t1 - t0) / 1e6);
		fflush(stdout);
	}
	return 0;
}

static int tcp_send(const char *host, int port, double secs)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	static char buf[1 << 16];
	double t0;

	inet_pton(AF_INET, host, &a.sin_addr);
	for (int tries = 0; connect(s, (struct sockaddr *)&a, sizeof(a)) < 0; tries++) {
		if (tries == 50) {
			perror("io_probe: connect");
			return 1;
		}
		close(s);
		s = socket(AF_INET, SOCK_STREAM, 0);
		usleep(100000); /* the receiver may still be starting */
	}
	t0 = now();
	while (now() - t0 < secs)
		if (write(s, buf, sizeof(buf)) < 0)
			return perror("io_probe: write"), 1;
	close(s);
	return 0;
}

int main(int argc, char *argv[])
{
	if (argc >= 4 && (!strcmp(argv[1], "randread") || !strcmp(argv[1], "seqread")))
		return file_bench(argv[1], argv[2], atof(argv[3]),
				  argc > 4 && !strcmp(argv[4], "direct"));
	if (argc == 4 && !strcmp(argv[1], "tcp-recv"))
		return tcp_recv(atoi(argv[2]), atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "tcp-send"))
		return tcp_send(argv[2], atoi(argv[3]), atof(argv[4]));
	fprintf(stderr, "usage: see the comment at the top of bench/io_probe.c\n");
	return 2;
}
