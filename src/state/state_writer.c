/* Building a state in memory: the file header, then sections whose
 * headers are completed (length, checksums) when each one ends. */
#include "state/state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_internal.h"
#include "util/le.h"

/* Records the first error only; later calls become no-ops. */
static void wfail(struct state_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void wfail(struct state_writer *w, const char *fmt, ...)
{
	va_list ap;

	if (w->failed)
		return;
	w->failed = true;
	va_start(ap, fmt);
	vsnprintf(w->err.msg, sizeof(w->err.msg), fmt, ap);
	va_end(ap);
}

/* Returns room for n more bytes at the end of the buffer, or NULL (and a
 * sticky error). The cap keeps every state readable by state_read_file
 * and every size computation far from overflow. */
static uint8_t *grow(struct state_writer *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 256;
	uint8_t *p;

	if (w->failed)
		return NULL;
	if (n > STATE_MAX_FILE - w->len) {
		wfail(w, "state writer: state exceeds %u bytes", STATE_MAX_FILE);
		return NULL;
	}
	if (w->len + n > w->cap) {
		while (cap < w->len + n)
			cap *= 2;
		p = realloc(w->buf, cap);
		if (!p) {
			wfail(w, "state writer: out of memory (%zu bytes)", cap);
			return NULL;
		}
		w->buf = p;
		w->cap = cap;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

static uint8_t *put(struct state_writer *w, const char *fn, size_t n)
{
	if (w->failed)
		return NULL;
	if (!w->in_section) {
		wfail(w, "state writer: %s outside a section", fn);
		return NULL;
	}
	return grow(w, n);
}

void state_writer_init(struct state_writer *w, const char *ringvm_version)
{
	uint8_t *h;
	size_t n = ringvm_version ? strlen(ringvm_version) : 0;

	memset(w, 0, sizeof(*w));
	h = grow(w, STATE_HEADER_LEN);
	if (!h)
		return;
	memset(h, 0, STATE_HEADER_LEN);
	memcpy(h + FH_MAGIC, STATE_MAGIC, 8);
	put_le32(h + FH_FORMAT, STATE_FORMAT_VERSION);
	put_le32(h + FH_HDRLEN, STATE_HEADER_LEN);
	if (n > STATE_VERSION_FIELD - 1)
		n = STATE_VERSION_FIELD - 1;
	/* The reader prints this field, so it holds printable ASCII only. */
	for (size_t i = 0; i < n; i++) {
		char ch = ringvm_version[i];

		h[FH_VERSION + i] = (ch >= 0x20 && ch <= 0x7e) ? (uint8_t)ch
							       : '?';
	}
	put_le32(h + FH_CRC, state_crc(h, FH_CRC));
}

void state_writer_free(struct state_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

/* Whether a finished section before the open point is already called
 * name. Walks the headers written so far (each completed by state_end). */
static bool have_section(const struct state_writer *w, const char *name)
{
	size_t off = STATE_HEADER_LEN;

	while (off < w->len) {
		const uint8_t *sh = w->buf + off;

		if (strncmp((const char *)sh + SH_NAME, name,
			    STATE_NAME_FIELD) == 0)
			return true;
		off += STATE_SECTION_HDR_LEN + (size_t)get_le64(sh + SH_LEN);
	}
	return false;
}

static bool name_ok(struct state_writer *w, const char *name)
{
	size_t n;

	if (!name) {
		wfail(w, "state writer: section without a name");
		return false;
	}
	n = strnlen(name, STATE_NAME_MAX + 1);
	if (n == 0 || n > STATE_NAME_MAX) {
		wfail(w, "state writer: section name \"%.*s%s\" must be 1..%d "
		      "characters", STATE_NAME_MAX, name,
		      n > STATE_NAME_MAX ? "..." : "", STATE_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!state_name_char_ok(name[i])) {
			wfail(w, "state writer: section name \"%s\" has a "
			      "character outside [a-z0-9_.-]", name);
			return false;
		}
	}
	if (strcmp(name, STATE_END_NAME) == 0) {
		wfail(w, "state writer: section name \"end\" is reserved for "
		      "the end marker");
		return false;
	}
	return true;
}

/* Appends a section header; its length and checksums come later. */
static void open_section(struct state_writer *w, const char *name,
			 uint32_t version)
{
	size_t start = w->len;
	uint8_t *sh = grow(w, STATE_SECTION_HDR_LEN);

	if (!sh)
		return;
	memset(sh, 0, STATE_SECTION_HDR_LEN);
	memcpy(sh + SH_NAME, name, strlen(name));
	put_le32(sh + SH_VERSION, version);
	w->section_start = start;
	w->in_section = true;
}

/* Fills in the open section's length and both checksums. */
static void close_section(struct state_writer *w)
{
	uint8_t *sh = w->buf + w->section_start;
	size_t plen = w->len - w->section_start - STATE_SECTION_HDR_LEN;

	put_le64(sh + SH_LEN, plen);
	put_le32(sh + SH_PAYCRC,
		 state_crc(sh + STATE_SECTION_HDR_LEN, plen));
	put_le32(sh + SH_HDRCRC, state_crc(sh, SH_HDRCRC));
	w->in_section = false;
}

void state_begin(struct state_writer *w, const char *name, uint32_t version)
{
	if (w->failed)
		return;
	if (w->in_section) {
		wfail(w, "state writer: section \"%s\" begun while section "
		      "\"%.*s\" is open", name ? name : "(null)",
		      STATE_NAME_FIELD,
		      (const char *)w->buf + w->section_start + SH_NAME);
		return;
	}
	if (!name_ok(w, name))
		return;
	if (w->nsections >= STATE_MAX_SECTIONS) {
		wfail(w, "state writer: more than %d sections",
		      STATE_MAX_SECTIONS);
		return;
	}
	if (have_section(w, name)) {
		wfail(w, "state writer: duplicate section \"%s\"", name);
		return;
	}
	open_section(w, name, version);
	if (!w->failed)
		w->nsections++;
}

void state_put_u8(struct state_writer *w, uint8_t v)
{
	uint8_t *p = put(w, "state_put_u8", 1);

	if (p)
		*p = v;
}

void state_put_u16(struct state_writer *w, uint16_t v)
{
	uint8_t *p = put(w, "state_put_u16", 2);

	if (p)
		put_le16(p, v);
}

void state_put_u32(struct state_writer *w, uint32_t v)
{
	uint8_t *p = put(w, "state_put_u32", 4);

	if (p)
		put_le32(p, v);
}

void state_put_u64(struct state_writer *w, uint64_t v)
{
	uint8_t *p = put(w, "state_put_u64", 8);

	if (p)
		put_le64(p, v);
}

void state_put_bool(struct state_writer *w, bool v)
{
	uint8_t *p = put(w, "state_put_bool", 1);

	if (p)
		*p = v ? 1 : 0;
}

void state_put_bytes(struct state_writer *w, const void *src, size_t n)
{
	uint8_t *p = put(w, "state_put_bytes", n);

	if (p && n)
		memcpy(p, src, n);
}

void state_put_str(struct state_writer *w, const char *s)
{
	size_t n;
	uint8_t *p;

	if (!s) {
		if (put(w, "state_put_str", 0))
			wfail(w, "state writer: state_put_str of NULL");
		return;
	}
	n = strlen(s);
	/* Checked first so that 4 + n cannot wrap; grow enforces the rest. */
	if (n > STATE_MAX_FILE) {
		wfail(w, "state writer: string of %zu bytes", n);
		return;
	}
	p = put(w, "state_put_str", 4 + n);
	if (!p)
		return;
	put_le32(p, (uint32_t)n);
	memcpy(p + 4, s, n);
}

void state_end(struct state_writer *w)
{
	if (w->failed)
		return;
	if (!w->in_section) {
		wfail(w, "state writer: state_end without state_begin");
		return;
	}
	close_section(w);
}

int state_writer_finish(struct state_writer *w, const uint8_t **buf,
			size_t *len, struct rv_err *err)
{
	if (!w->failed && w->in_section)
		wfail(w, "state writer: section \"%.*s\" still open at finish",
		      STATE_NAME_FIELD,
		      (const char *)w->buf + w->section_start + SH_NAME);
	if (!w->failed) {
		open_section(w, STATE_END_NAME, 0);
		if (!w->failed)
			close_section(w);
	}
	if (w->failed)
		return rv_fail(err, "%s", w->err.msg);
	*buf = w->buf;
	*len = w->len;
	/* The state is complete: anything further would follow the end
	 * marker, so refuse it (a second finish included). */
	wfail(w, "state writer: used after state_writer_finish");
	return 0;
}
