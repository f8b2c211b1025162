/* memdirty MIB RATE: keeps rewriting MIB MiB of its own memory, page after
 * page, and checks that each page still holds what this program wrote
 * there on its pass before. A live migration that lost a page (sent it,
 * saw it rewritten, never sent it again) or delivered a stale copy shows
 * here, in the very pages that change all the time. RATE is MiB/s of pages
 * rewritten (a fixed dirty rate); 0 rewrites every page, then rests 5 ms,
 * over and over (as fast as the vCPU goes). Runs until SIGTERM, then
 * prints "RV memdirty=ok mib=N passes=N"; a mismatch prints
 * "RV memdirty=bad ..." and exits 1. Part of the test guest's initramfs. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE  4096
#define CHUNK 16            /* pages between looks at the clock */

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	size_t pages, done = 0;
	uint64_t pass = 1;
	double rate, t0;
	uint8_t *mem;
	int mib;

	if (argc != 3 || (mib = atoi(argv[1])) <= 0 || atoi(argv[2]) < 0) {
		fprintf(stderr, "usage: memdirty MIB RATE_MIB_PER_S\n");
		return 2;
	}
	rate = atoi(argv[2]) * 1048576.0;
	pages = (size_t)mib * (1 << 20) / PAGE;
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("memdirty: mmap");
		return 2;
	}
	signal(SIGTERM, on_term);
	t0 = now_s();
	while (!stop) {
		for (size_t p = 0; p < pages && !stop; p++) {
			volatile uint64_t *w = (volatile uint64_t *)(mem + p * PAGE);

			if (pass > 1 && (w[0] != pass - 1 || w[1] != p)) {
				printf("RV memdirty=bad page=%zu pass=%llu found=%llu/%llu\n",
				       p, (unsigned long long)pass,
				       (unsigned long long)w[0],
				       (unsigned long long)w[1]);
				return 1;
			}
			w[0] = pass;
			w[1] = p;
			/* A fixed rate: ahead of it, wait. */
			if (rate > 0 && ++done % CHUNK == 0) {
				double ahead = (double)done * PAGE / rate -
					       (now_s() - t0);

				if (ahead > 0)
					sleep_s(ahead);
			}
		}
		if (!stop)
			pass++;
		if (rate == 0)
			sleep_s(0.005);
	}
	printf("RV memdirty=ok mib=%d passes=%llu\n", mib,
	       (unsigned long long)pass - 1);
	return 0;
}
