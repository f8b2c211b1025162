/* libFuzzer target: a hostile state file. The reader must refuse it with
 * a message or accept it whole; what it accepts is then read through
 * cursors in a pattern chosen by the input. Any crash, ASan or UBSan
 * report, or broken invariant (abort) is a bug.
 *
 * Input layout:
 *   [0]      max_version for every lookup (0xff: any)
 *   [1..8]   read pattern, one op per byte, cycled (see read_op)
 *   [9..]    the state file, as an exact-size heap block
 *
 * The pattern sits outside the file so that mutating it keeps the file's
 * checksums valid: the cursor paths get exercised on accepted states, not
 * only the reader's refusals.
 *
 * Built with -DFUZZ_SEEDS it is instead a program writing the seed
 * corpus to the directory given as argv[1] (tests/fuzz/run.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"

#define IN_MAXVER  0
#define IN_OPS     1
#define NOPS       8
#define IN_FILE    (IN_OPS + NOPS)
#define MAX_STEPS  4096

static bool name_ok(const char *s)
{
	size_t n = strnlen(s, STATE_NAME_MAX + 1);

	if (n == 0 || n > STATE_NAME_MAX || strcmp(s, "end") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

/* A valid state has one encoding: writing back what the reader handed
 * out must give the input byte for byte. */
static void check_canonical(const struct state_reader *r, const uint8_t *p,
			    size_t len)
{
	struct state_writer w;
	const uint8_t *b;
	size_t n;
	struct rv_err err;

	state_writer_init(&w, r->ringvm_version);
	for (unsigned int i = 0; i < r->nsec; i++) {
		state_begin(&w, r->sec[i].name, r->sec[i].version);
		state_put_bytes(&w, r->sec[i].payload, (size_t)r->sec[i].len);
		state_end(&w);
	}
	if (state_writer_finish(&w, &b, &n, &err) != 0 || n != len ||
	    memcmp(b, p, len) != 0)
		abort();
	state_writer_free(&w);
}

static void check_reader(const struct state_reader *r, const uint8_t *p,
			 size_t len)
{
	if (r->nsec > STATE_MAX_SECTIONS || r->format_version != 1 ||
	    strlen(r->ringvm_version) > 31)
		abort();
	for (unsigned int i = 0; i < r->nsec; i++) {
		const struct state_section_ref *s = &r->sec[i];

		if (!name_ok(s->name) || !state_has_section(r, s->name))
			abort();
		if (s->payload < p + STATE_HEADER_LEN || s->len > len ||
		    (size_t)(s->payload - p) > len - s->len)
			abort();
		for (unsigned int j = 0; j < i; j++)
			if (strcmp(r->sec[j].name, s->name) == 0)
				abort();
	}
	if (state_has_section(r, "end"))
		abort();
	check_canonical(r, p, len);
}

/* One get. A read that leaves the cursor bad must return zeros; one that
 * does not must have advanced by exactly its size. */
static void read_op(struct state_cursor *c, uint8_t op, uint8_t *scratch)
{
	uint64_t before = c->off, len = c->sec->len;
	uint64_t want = 0, got = 0;
	char str[33];
	size_t n;

	switch (op & 7) {
	case 0: got = state_get_u8(c); want = 1; break;
	case 1: got = state_get_u16(c); want = 2; break;
	case 2: got = state_get_u32(c); want = 4; break;
	case 3: got = state_get_u64(c); want = 8; break;
	case 4:
		got = state_get_bool(c);
		want = 1;
		if (!c->bad && got > 1)
			abort();
		break;
	case 5:                 /* a string into 1..32 bytes */
		memset(str, 'z', sizeof(str));
		state_get_str(c, str, (size_t)(op >> 3) + 1);
		n = strnlen(str, sizeof(str));
		if (n > (size_t)(op >> 3))
			abort();
		if (c->bad ? n != 0 : c->off != before + 4 + n)
			abort();
		return;
	case 6:                 /* 0..31 raw bytes */
		n = op >> 3;
		memset(scratch, 0x55, n);
		state_get_bytes(c, scratch, n);
		for (size_t i = 0; c->bad && i < n; i++)
			got |= scratch[i];
		want = n;
		break;
	case 7:
		if ((op >> 3) == 31) {
			state_cursor_reject(c, "fuzz reject");
			if (!c->bad)
				abort();
			return;
		}
		/* The rest of the payload, or one byte more. */
		n = (size_t)(len - before) + ((op >> 3) & 1);
		memset(scratch, 0x55, n);
		state_get_bytes(c, scratch, n);
		for (size_t i = 0; c->bad && i < n; i++)
			got |= scratch[i];
		want = n;
		break;
	}
	if (c->bad ? got != 0 : c->off != before + want)
		abort();
	if (c->off > len)
		abort();
}

static void walk(const struct state_reader *r, const uint8_t *ops,
		 uint32_t max_version)
{
	struct rv_err err;
	uint8_t *scratch;
	unsigned int k = 0;

	for (unsigned int i = 0; i < r->nsec; i++) {
		const struct state_section_ref *s = &r->sec[i];
		struct state_cursor c;
		uint32_t v = 0;
		int rc;

		rc = state_section(r, s->name, max_version, &c, &v, &err);
		if ((rc == 0) != (s->version <= max_version))
			abort();
		if (rc != 0) {
			if (!c.bad || state_get_u8(&c) != 0 ||
			    state_cursor_finish(&c, &err) == 0)
				abort();
			continue;
		}
		if (v != s->version || c.sec != s)
			abort();
		scratch = malloc((size_t)s->len + 32);
		if (!scratch)
			abort();
		/* At the end of the payload an odd next op stops, an even
		 * one over-reads, so both finishes get exercised. */
		for (unsigned int step = 0; step < MAX_STEPS; step++) {
			if (c.bad || (c.off == s->len && step > 0 &&
				      (ops[k % NOPS] & 1)))
				break;
			read_op(&c, ops[k++ % NOPS], scratch);
		}
		rc = state_cursor_finish(&c, &err);
		if ((rc == 0) != (!c.bad && c.off == s->len))
			abort();
		free(scratch);
	}
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	uint8_t hdr[IN_FILE] = { 0 };
	size_t flen = size > IN_FILE ? size - IN_FILE : 0;
	uint8_t *file = malloc(flen ? flen : 1);
	struct state_reader r;
	struct rv_err err;
	uint32_t maxv;

	if (!file)
		abort();
	memcpy(hdr, data, size < IN_FILE ? size : IN_FILE);
	if (flen)
		memcpy(file, data + IN_FILE, flen);
	maxv = hdr[IN_MAXVER] == 0xff ? UINT32_MAX : hdr[IN_MAXVER];
	err.msg[0] = '\0';
	if (state_reader_open(&r, file, flen, "fuzz input", &err) == 0) {
		check_reader(&r, file, flen);
		walk(&r, hdr + IN_OPS, maxv);
	} else if (strncmp(err.msg, "fuzz input", 10) != 0 ||
		   r.sec || r.nsec || strchr(err.msg, '\n')) {
		abort();
	}
	state_reader_free(&r);
	free(file);
}

#ifndef FUZZ_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}

#else

/* ---- seed corpus: states the writer makes ---- */

static const uint8_t ops_mixed[NOPS] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05 | (7 << 3), 0x06 | (9 << 3), 0x07,
};
static const uint8_t ops_exact[NOPS] = {
	0x03, 0x03, 0x02, 0x07, 0x07, 0x07, 0x07, 0x07,
};

/* Writes [maxver][ops][state] and runs it once, so a seed that breaks
 * the target shows up here, outside libFuzzer. */
static int write_seed(const char *dir, const char *name, uint8_t maxv,
		      const uint8_t *ops, const uint8_t *st, size_t len)
{
	char path[4096];
	uint8_t *b = malloc(IN_FILE + len);
	FILE *f;
	int rc = 0;

	if (!b)
		return -1;
	b[IN_MAXVER] = maxv;
	memcpy(b + IN_OPS, ops, NOPS);
	memcpy(b + IN_FILE, st, len);
	fuzz_one(b, IN_FILE + len);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, IN_FILE + len, f) != IN_FILE + len ||
	    fclose(f) != 0) {
		perror(path);
		rc = -1;
	}
	free(b);
	return rc;
}

static int finish_seed(struct state_writer *w, const char *dir,
		       const char *name, uint8_t maxv, const uint8_t *ops)
{
	const uint8_t *b;
	size_t n;
	struct rv_err err;
	int rc;

	if (state_writer_finish(w, &b, &n, &err) != 0) {
		fprintf(stderr, "%s: %s\n", name, err.msg);
		state_writer_free(w);
		return -1;
	}
	rc = write_seed(dir, name, maxv, ops, b, n);
	/* And a truncated copy: refused, but close to valid. */
	if (n > 8) {
		char tname[64];

		snprintf(tname, sizeof(tname), "%s-truncated", name);
		rc |= write_seed(dir, tname, maxv, ops, b, n - 7);
	}
	state_writer_free(w);
	return rc;
}

int main(int argc, char **argv)
{
	struct state_writer w;
	uint8_t big[4000];
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	state_writer_init(&w, "ringvm 0.1");
	rc |= finish_seed(&w, argv[1], "empty", 0xff, ops_mixed);

	state_writer_init(&w, "ringvm 0.1");
	state_begin(&w, "cpu0", 2);
	state_put_u8(&w, 1);
	state_put_u16(&w, 0x1234);
	state_put_u32(&w, 0xdeadbeef);
	state_put_u64(&w, 0x0123456789abcdefull);
	state_put_bool(&w, true);
	state_put_str(&w, "hello");
	state_put_bytes(&w, "abcdefghi", 9);
	state_end(&w);
	state_begin(&w, "uart.0", 1);
	state_put_u64(&w, 7);
	state_put_u64(&w, 8);
	state_end(&w);
	state_begin(&w, "empty", 0);
	state_end(&w);
	state_begin(&w, "virtio-net_0", 3);
	state_put_str(&w, "52:54:00:12:34:56");
	state_put_u32(&w, 256);
	state_end(&w);
	rc |= finish_seed(&w, argv[1], "sections", 0xff, ops_mixed);

	state_writer_init(&w, "ringvm 0.1");
	state_begin(&w, "cpu0", 2);
	state_put_u64(&w, 1);
	state_put_u64(&w, 2);
	state_put_u32(&w, 3);
	state_end(&w);
	state_begin(&w, "vm", 5);
	state_put_u8(&w, 0);
	state_end(&w);
	rc |= finish_seed(&w, argv[1], "versions", 2, ops_exact);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + 5);
	state_writer_init(&w, "ringvm 0.1-long");
	state_begin(&w, "ram.dirty", 1);
	state_put_bytes(&w, big, sizeof(big));
	state_end(&w);
	state_begin(&w, "tail", 1);
	state_put_str(&w, "");
	state_end(&w);
	rc |= finish_seed(&w, argv[1], "long-section", 0xff, ops_exact);
	return rc ? 1 : 0;
}

#endif
