/* stalled-stdout: runs a command whose stdout is a pipe nobody reads,
 * shrunk to one page so it is full after a few KiB, waits until a log file
 * the command writes has grown past LOG_BYTES (the command goes on with its
 * stdout stuck), then sends SIGTERM and measures how long the command takes
 * to exit.
 *
 *   stalled-stdout LOG LOG_BYTES TIMEOUT_S -- COMMAND [ARGS...]
 *
 * Prints "log_bytes=N stop_ms=M status=S" (status as the shell reports it:
 * 128+N for a signal); stop_ms is -1 and log_bytes what it reached when the
 * log never grew that far within TIMEOUT_S. Exit status 0 when it could
 * run the command, 2 on a usage or system error.
 *
 * Why a tool: a shell FIFO holds 64 KiB, and filling it through an
 * emulated UART in a nested guest takes ~10^5 port I/O exits, the very load
 * that provokes faults of the emulator (docs/harness.md, "Stalls"). One
 * page needs a twentieth of that. */
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

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static int shell_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	long long want, got = 0;
	double t_end, t_term, stop = -1;
	int pfd[2], st = 0;
	long limit_s;
	pid_t pid;

	if (argc < 6 || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: stalled-stdout LOG LOG_BYTES TIMEOUT_S -- COMMAND [ARGS...]\n");
		return 2;
	}
	want = atoll(argv[2]);
	limit_s = atol(argv[3]);
	if (want <= 0 || limit_s <= 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "stalled-stdout: bad LOG_BYTES or TIMEOUT_S, or no pipe: %s\n", strerror(errno));
		return 2;
	}
	/* One page: the smallest pipe Linux makes. */
	if (fcntl(pfd[1], F_SETPIPE_SZ, 4096) < 0)
		fprintf(stderr, "stalled-stdout: F_SETPIPE_SZ: %s (the pipe keeps its size)\n", strerror(errno));
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
	while (now_ms() < t_end && (got = file_size(argv[1])) < want &&
	       waitpid(pid, &st, WNOHANG) == 0)
		usleep(100000);
	got = file_size(argv[1]);
	if (waitpid(pid, &st, WNOHANG) == pid) {
		printf("log_bytes=%lld stop_ms=-1 status=%d\n", got, shell_status(st));
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
	printf("log_bytes=%lld stop_ms=%.0f status=%d\n", got,
	       got >= want ? stop : -1, shell_status(st));
	return 0;
}
