/* lifecycle_probe: times the steps make bench-lifecycle measures, the same
 * way for ringvm and its peer.
 *
 *   lifecycle_probe ms COMMAND [ARGS...]
 *       runs COMMAND to its end; prints "probe_ms N" and "probe_status N"
 *   lifecycle_probe hmp SOCKET COMMAND
 *       sends one command to a QEMU human monitor on a Unix socket and
 *       prints "probe_ms N", from sending it to the next prompt (HMP
 *       answers, and a blocking migrate completes, before its prompt);
 *       the answer goes to stdout
 *   lifecycle_probe http SOCKET METHOD PATH [BODY]
 *       sends one HTTP request to an API socket (ringvm's) and prints
 *       "probe_ms N", from sending it to the end of the answer, and
 *       "probe_status 0" for a 2xx answer: the same measure as hmp, so
 *       neither side pays for starting a client process
 *   lifecycle_probe until MARKER COMMAND [ARGS...]
 *       starts COMMAND, reads its stdout until MARKER appears, prints
 *       "probe_ms N" (process start to marker, -1 if it never came), then
 *       stops it (SIGTERM, SIGKILL after 5 s) and prints "probe_status N"
 *
 * Everything goes to stderr; the command's output is passed through to
 * stdout. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long "until" waits for its marker. */
#define UNTIL_LIMIT_MS 120000.0

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int status_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_ms(char **cmd)
{
	double t0 = now_ms();
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	fprintf(stderr, "probe_ms %.1f\nprobe_status %d\n", now_ms() - t0,
		status_of(st));
	return 0;
}

static int run_until(const char *marker, char **cmd)
{
	char buf[4096], window[8192] = "";
	double t0, t = -1;
	int pfd[2], st;
	pid_t pid;

	if (pipe(pfd) < 0)
		return perror("pipe"), 1;
	t0 = now_ms();
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	close(pfd[1]);
	while (t < 0) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;
		size_t wl = strlen(window), keep = strlen(marker);

		/* A command that never shows the marker is a failed sample,
		 * not a hung benchmark. */
		if (now_ms() - t0 > UNTIL_LIMIT_MS || poll(&p, 1, 1000) < 0)
			break;
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(pfd[0], buf, sizeof(buf) - 1);
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
		buf[n] = 0;
		if (wl + (size_t)n >= sizeof(window)) {
			memmove(window, window + wl - (wl < keep ? wl : keep),
				(wl < keep ? wl : keep) + 1);
			wl = strlen(window);
		}
		memcpy(window + wl, buf, (size_t)n + 1);
		if (strstr(window, marker))
			t = now_ms() - t0;
	}
	fprintf(stderr, "probe_ms %.1f\n", t);
	kill(pid, SIGTERM);
	for (int i = 0; i < 50 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(100000);
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	/* Stopped by us after the marker: that is success. */
	fprintf(stderr, "probe_status %d\n", t < 0 ? 1 : status_of(st) == 128 + SIGTERM ? 0 : status_of(st));
	return 0;
}

/* Reads from fd until the HMP prompt; -1 on EOF or error. What comes
 * before it goes to echo when that is not NULL. */
static int read_prompt(int fd, FILE *echo)
{
	char buf[4096 + 16], tail[16] = "";

	for (;;) {
		size_t tl = strlen(tail);
		ssize_t n;

		/* The prompt may come split across reads: keep the tail. */
		memcpy(buf, tail, tl);
		n = read(fd, buf + tl, sizeof(buf) - tl - 1);
		if (n <= 0)
			return -1;
		buf[tl + (size_t)n] = 0;
		if (echo)
			fwrite(buf + tl, 1, (size_t)n, echo);
		if (strstr(buf, "(qemu) "))
			return 0;
		n += (ssize_t)tl;
		tl = n > 8 ? 8 : (size_t)n;
		memcpy(tail, buf + n - (ssize_t)tl, tl);
		tail[tl] = 0;
	}
}

static int run_hmp(const char *path, const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	double t0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    read_prompt(fd, NULL) < 0)
		return perror("hmp"), 1;
	t0 = now_ms();
	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0 ||
	    read_prompt(fd, stdout) < 0)
		return perror("hmp"), 1;
	fprintf(stderr, "probe_ms %.1f\nprobe_status 0\n", now_ms() - t0);
	close(fd);
	return 0;
}

/* One HTTP/1.1 request on a Unix socket (connected first, as for hmp),
 * timed from sending it to the end of the response (Connection: close).
 * probe_status is 0 for a 2xx answer. */
static int run_http(const char *path, const char *method, const char *uri,
		    const char *body)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), code = 0;
	char req[4096], resp[4096];
	size_t got = 0;
	ssize_t n;
	double t0;
	int len;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	len = snprintf(req, sizeof(req),
		       "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
		       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		       method, uri, strlen(body), body);
	if (len < 0 || (size_t)len >= sizeof(req))
		return fprintf(stderr, "http: request too long\n"), 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return perror("http"), 1;
	t0 = now_ms();
	if (write(fd, req, (size_t)len) != len)
		return perror("http"), 1;
	while ((n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		if ((got += (size_t)n) == sizeof(resp) - 1)
			got = 0; /* only the status line matters; keep reading */
	double ms = now_ms() - t0;

	resp[got] = 0;
	sscanf(resp, "HTTP/1.1 %d", &code);
	fprintf(stderr, "probe_ms %.1f\nprobe_status %d\n", ms,
		code >= 200 && code < 300 ? 0 : 1);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	fflush(stdout);
	if (argc >= 3 && !strcmp(argv[1], "ms"))
		return run_ms(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "hmp"))
		return run_hmp(argv[2], argv[3]);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "http"))
		return run_http(argv[2], argv[3], argv[4], argc == 6 ? argv[5] : "");
	if (argc >= 4 && !strcmp(argv[1], "until"))
		return run_until(argv[2], argv + 3);
	fprintf(stderr, "usage: lifecycle_probe ms COMMAND... | hmp SOCKET COMMAND | http SOCKET METHOD PATH [BODY] | until MARKER COMMAND...\n");
	return 2;
}
