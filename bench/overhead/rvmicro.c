/* rvmicro: the overhead observatory's own microbenchmarks, one fixed
 * amount of work each, run unchanged natively, in a container and in
 * guests (static, so one binary serves every platform).
 *
 *   rvmicro syscall     getpid() through syscall(2), ns per call
 *   rvmicro fork        fork + _exit + waitpid, per second
 *   rvmicro mmap        mmap 4 MiB, touch every page, munmap, per second
 *   rvmicro ctxsw       pipe ping-pong between two processes, ns per switch
 *   rvmicro timer       1 kHz absolute sleeps, wakeup latency in us
 *   rvmicro chase SIZE [4k|2m]
 *                       dependent loads over SIZE bytes (random cyclic
 *                       order of cache lines), ns per load, on 4 KiB pages
 *                       or 2 MiB pages (THP; hugetlbfs when THP is off)
 *
 * Each prints "NAME VALUE UNIT" lines (the first is the figure the report
 * uses) and exits 0, or names what failed on stderr and exits 1.
 * "-s SCALE" before the workload multiplies the amount of work (default
 * 1; the tests use small fractions).
 *
 * Each figure is what one run measured; runs are repeated and summarized
 * by the driver, never here. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)
#define LINE 64UL

struct opts {
	double scale; /* multiplies every workload's fixed amount of work */
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long work(const struct opts *o, long base)
{
	long n = (long)((double)base * o->scale);

	return n < 1 ? 1 : n;
}

static int fail(const char *what)
{
	fprintf(stderr, "rvmicro: %s: %s\n", what, strerror(errno));
	return 1;
}

static int do_syscall(const struct opts *o)
{
	long n = work(o, 2000000);
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	printf("syscall_ns %.1f ns\n", (now_ns() - t0) / (double)n);
	printf("syscall_calls %ld calls\n", n);
	return 0;
}

static int do_fork(const struct opts *o)
{
	long n = work(o, 2000);
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		int st;
		pid_t p = fork();

		if (p < 0)
			return fail("fork");
		if (p == 0)
			_exit(0);
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st))
			return fail("waitpid");
	}
	printf("fork_per_s %.0f /s\n", (double)n * 1e9 / (now_ns() - t0));
	return 0;
}

static int do_mmap(const struct opts *o)
{
	const size_t size = 4 * MIB;
	long page = sysconf(_SC_PAGESIZE), n = work(o, 500);
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return fail("mmap");
		/* 4 KiB pages: the page-table work is the point. */
		madvise((void *)p, size, MADV_NOHUGEPAGE);
		for (size_t off = 0; off < size; off += (size_t)page)
			p[off] = 1;
		if (munmap((void *)p, size) < 0)
			return fail("munmap");
	}
	double dt = now_ns() - t0;

	printf("mmap_per_s %.0f /s\n", (double)n * 1e9 / dt);
	printf("mmap_page_ns %.1f ns\n", dt / ((double)n * (double)(size / (size_t)page)));
	return 0;
}

static int do_ctxsw(const struct opts *o)
{
	int ab[2], ba[2];
	long n = work(o, 100000);
	char c = 0;
	pid_t p;

	if (pipe(ab) < 0 || pipe(ba) < 0)
		return fail("pipe");
	p = fork();
	if (p < 0)
		return fail("fork");
	if (p == 0) {
		for (long i = 0; i < n; i++)
			if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			return fail("pipe round trip");
	double dt = now_ns() - t0;
	int st;

	if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st))
		return fail("ping-pong partner");
	/* A round trip is two switches (there and back). */
	printf("ctxsw_ns %.1f ns\n", dt / (2.0 * (double)n));
	printf("ctxsw_roundtrips %ld trips\n", n);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int do_timer(const struct opts *o)
{
	long n = work(o, 2000);
	double *late = calloc((size_t)n, sizeof(*late));
	struct timespec next;

	if (!late)
		return fail("calloc");
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < n; i++) {
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		late[i] = (now_ns() - ((double)next.tv_sec * 1e9 + (double)next.tv_nsec)) / 1e3;
	}
	qsort(late, (size_t)n, sizeof(*late), cmp_double);
	printf("timer_wakeup_us %.1f us\n", late[n / 2]);
	printf("timer_wakeup_p99_us %.1f us\n", late[(size_t)((double)n * 0.99)]);
	free(late);
	return 0;
}

/* xorshift64: a reproducible shuffle without libc's global rand state. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A 2 MiB-aligned mapping; huge asks for THP (or hugetlbfs as a fallback).
 * *got_huge says whether the kernel really backs it with huge pages. */
static void *chase_map(size_t size, int huge, int *got_huge)
{
	size_t len = (size + 2 * MIB - 1) & ~(2 * MIB - 1);
	char *raw, *p;

	*got_huge = 0;
	if (huge) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p != MAP_FAILED) {
			*got_huge = 1;
			return p;
		}
	}
	raw = mmap(NULL, len + 2 * MIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
	madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

/* AnonHugePages of this process (kB), to report what THP really gave. */
static long anon_huge_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int do_chase(const struct opts *o, const char *size_arg, const char *pages)
{
	char *end;
	unsigned long long v = strtoull(size_arg, &end, 10);
	size_t size, lines;
	int huge = pages && !strcmp(pages, "2m"), got_huge;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	if (end == size_arg)
		return fprintf(stderr, "rvmicro: chase: SIZE '%s' is not a number (K, M or G may follow)\n", size_arg), 1;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end || v < 2 * LINE || v > (16ULL << 30))
		return fprintf(stderr, "rvmicro: chase: SIZE '%s': give 128 bytes to 16G\n", size_arg), 1;
	if (pages && strcmp(pages, "4k") && strcmp(pages, "2m"))
		return fprintf(stderr, "rvmicro: chase: pages '%s': give 4k or 2m\n", pages), 1;
	size = (size_t)v;
	lines = size / LINE;

	char *buf = chase_map(size, huge, &got_huge);
	size_t *order = malloc(lines * sizeof(*order));

	if (!buf || !order)
		return fail("chase memory");
	for (size_t i = 0; i < lines; i++)
		order[i] = i;
	for (size_t i = lines - 1; i > 0; i--) {
		size_t j = (size_t)(next_rand(&seed) % (i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	/* One cycle through every line, in shuffled order: each load's
	 * address comes from the previous load. */
	for (size_t i = 0; i < lines; i++)
		*(void **)(buf + order[i] * LINE) = buf + order[(i + 1) % lines] * LINE;
	free(order);
	if (huge && !got_huge)
		got_huge = anon_huge_kb() > 0;

	long n = work(o, 20000000);
	void **p = (void **)buf;

	for (size_t i = 0; i < lines; i++) /* warm up: one full cycle */
		p = *p;
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		p = *p;
	double dt = now_ns() - t0;

	printf("chase_ns %.2f ns\n", dt / (double)n);
	printf("chase_bytes %zu bytes\n", size);
	printf("chase_huge_pages %d %s\n", got_huge, got_huge ? "yes" : "no");
	/* Keeps the chain live, so the loop is not optimized away. */
	printf("chase_end %u index\n", (unsigned)((size_t)((char *)p - buf) / LINE % 1000));
	return 0;
}

static int usage(void)
{
	fputs("usage: rvmicro [-s SCALE] syscall|fork|mmap|ctxsw|timer|chase SIZE [4k|2m]\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = { .scale = 1.0 };
	int i = 1;

	if (i + 1 < argc && !strcmp(argv[i], "-s")) {
		char *end;

		o.scale = strtod(argv[i + 1], &end);
		if (*end || !(o.scale > 0 && o.scale <= 1000))
			return fprintf(stderr, "rvmicro: -s '%s': give a number above 0, at most 1000\n", argv[i + 1]), 2;
		i += 2;
	}
	if (i >= argc)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[i], "syscall"))
		return do_syscall(&o);
	if (!strcmp(argv[i], "fork"))
		return do_fork(&o);
	if (!strcmp(argv[i], "mmap"))
		return do_mmap(&o);
	if (!strcmp(argv[i], "ctxsw"))
		return do_ctxsw(&o);
	if (!strcmp(argv[i], "timer"))
		return do_timer(&o);
	if (!strcmp(argv[i], "chase") && i + 1 < argc && i + 3 >= argc)
		return do_chase(&o, argv[i + 1], i + 2 < argc ? argv[i + 2] : NULL);
	return usage();
}
