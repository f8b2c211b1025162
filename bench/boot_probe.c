/* boot_probe: runs a VMM command, passes its output through, and reports
 * how long it took until a marker line appeared (the guest's /init) and the
 * command's peak RSS. Used by bench/boot.sh for ringvm and its peers alike,
 * so both are measured the same way.
 *
 *   boot_probe MARKER COMMAND [ARGS...]
 *
 * Prints to stderr at the end: "probe_boot_to_init_ms N", "probe_peak_rss_kib
 * N", "probe_status N". Exit status: the command's. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char *argv[])
{
	const char *marker;
	char buf[4096], window[8192] = "";
	double t0, t_init = -1;
	int pfd[2], status;
	struct rusage ru;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: boot_probe MARKER COMMAND [ARGS...]\n");
		return 1;
	}
	marker = argv[1];
	if (pipe(pfd) < 0)
		return perror("pipe"), 1;
	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execvp(argv[2], &argv[2]);
		perror(argv[2]);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
		size_t wl;

		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
		if (t_init >= 0)
			continue;
		/* Keep a sliding window so a marker split across reads is found. */
		buf[n] = 0;
		wl = strlen(window);
		if (wl + (size_t)n >= sizeof(window)) {
			size_t keep = strlen(marker);

			memmove(window, window + wl - (wl < keep ? wl : keep),
				(wl < keep ? wl : keep) + 1);
			wl = strlen(window);
		}
		memcpy(window + wl, buf, (size_t)n + 1);
		if (strstr(window, marker))
			t_init = now_ms() - t0;
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return perror("wait4"), 1;
	fprintf(stderr, "probe_boot_to_init_ms %.0f\n", t_init);
	fprintf(stderr, "probe_peak_rss_kib %ld\n", ru.ru_maxrss);
	fprintf(stderr, "probe_status %d\n",
		WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
