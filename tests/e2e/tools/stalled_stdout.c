/* stalled-stdout: runs a command whose stdout is a pipe that is already
 * full and that nobody reads, waits until a log file the command writes
 * shows MARKER (the command went on with its stdout stuck), then sends
 * SIGTERM and measures how long the command takes to exit.
 *
 *   stalled-stdout LOG MARKER TIMEOUT_S -- COMMAND [ARGS...]
 *
 * Prints "log_bytes=N marker=yes|no stop_ms=M status=S" (status as the
 * shell reports it: 128+N for a signal); stop_ms is -1 when MARKER never
 * appeared within TIMEOUT_S or the command ended by itself. Exit status 0
 * when it could run the command, 2 on a usage or system error.
 *
 * Why a tool, and why full from the start: a shell FIFO holds 64 KiB, and
 * filling it through an emulated UART in a nested guest takes ~10^5 port
 * I/O exits and THR interrupts, the very load that provokes faults of the
 * emulator (docs/harness.md, "Stalls"). Filled here, the pipe blocks the
 * command's first console write, and the guest needs to print only a few
 * lines. The pipe stays blocking, so the command's writer really sits in
 * write(). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The file's size, and whether it holds marker (read whole: a serial log
 * of a few KiB). */
static long long log_state(const char *path, const char *marker, int *found)
{
	FILE *f = fopen(path, "rb");
	static const size_t cap = 1 << 20;
	char *buf;
	size_t n;

	*found = 0;
	if (!f)
		return 0;
	buf = malloc(cap);
	n = buf ? fread(buf, 1, cap, f) : 0;
	fclose(f);
	if (buf && memmem(buf, n, marker, strlen(marker)))
		*found = 1;
	free(buf);
	return (long long)n;
}

/* Fills the pipe's write end until it would block, then makes it blocking
 * again. */
static int fill_pipe(int fd)
{
	static const char junk[4096] = { 0 };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	while (write(fd, junk, sizeof(junk)) > 0)
		;
	if (errno != EAGAIN)
		return -1;
	/* A page-sized write may not fit a partly full pipe: single bytes. */
	while (write(fd, junk, 1) > 0)
		;
	return fcntl(fd, F_SETFL, fl);
}

static int shell_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	double t_end, t_term, stop = -1;
	int pfd[2], st = 0, found = 0;
	long long got;
	long limit_s;
	pid_t pid;

	if (argc < 6 || strcmp(argv[4], "--") || !argv[2][0]) {
		fprintf(stderr, "usage: stalled-stdout LOG MARKER TIMEOUT_S -- COMMAND [ARGS...]\n");
		return 2;
	}
	limit_s = atol(argv[3]);
	if (limit_s <= 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "stalled-stdout: bad TIMEOUT_S, or no pipe: %s\n", strerror(errno));
		return 2;
	}
	/* One page, the smallest pipe Linux makes: quick to fill. */
	if (fcntl(pfd[1], F_SETPIPE_SZ, 4096) < 0)
		fprintf(stderr, "stalled-stdout: F_SETPIPE_SZ: %s (the pipe keeps its size)\n", strerror(errno));
	if (fill_pipe(pfd[1]) < 0) {
		fprintf(stderr, "stalled-stdout: cannot fill the pipe: %s\n", strerror(errno));
		return 2;
	}
	pid = fork();
	if (pid < 0)
		return fprintf(stderr, "stalled-stdout: fork: %s\n", strerror(errno)), 2;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[5], argv + 5);
		_exit(127);
	}
	close(pfd[1]); /* the read end stays open and is never read */
	t_end = now_ms() + (double)limit_s * 1e3;
	while (now_ms() < t_end && (log_state(argv[1], argv[2], &found), !found) &&
	       waitpid(pid, &st, WNOHANG) == 0)
		usleep(100000);
	got = log_state(argv[1], argv[2], &found);
	if (waitpid(pid, &st, WNOHANG) == pid) {
		printf("log_bytes=%lld marker=%s stop_ms=-1 status=%d\n", got,
		       found ? "yes" : "no", shell_status(st));
		return 0;
	}
	t_term = now_ms();
	kill(pid, SIGTERM);
	/* Up to 5 s, then it is killed: a hang is reported, never waited on. */
	while (now_ms() - t_term < 5000) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			stop = now_ms() - t_term;
			break;
		}
		usleep(10000);
	}
	if (stop < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	printf("log_bytes=%lld marker=%s stop_ms=%.0f status=%d\n", got,
	       found ? "yes" : "no", found ? stop : -1, shell_status(st));
	return 0;
}
