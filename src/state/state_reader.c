/* Validating a whole state before anyone looks at a section. Every length
 * in the file is hostile: each is compared with the bytes that remain
 * (subtraction on known-good values, never addition) before it is used. */
#include "state/state.h"

#include <stdlib.h>
#include <string.h>

#include "state/state_internal.h"
#include "util/le.h"

static int check_header(struct state_reader *r, const char *what,
			struct rv_err *err)
{
	const uint8_t *h = r->buf;
	uint32_t fmt, hlen;
	size_t n;

	if (r->len == 0)
		return rv_fail(err, "%s is empty", what);
	if (r->len < STATE_HEADER_LEN)
		return rv_fail(err, "%s is too short (%zu bytes; the header "
			       "alone is %d)", what, r->len, STATE_HEADER_LEN);
	if (memcmp(h + FH_MAGIC, STATE_MAGIC, 8) != 0)
		return rv_fail(err, "%s: not a ringvm state file", what);
	/* Before the checksum: a newer format may lay its header out
	 * differently, and "newer" is the useful thing to say then. */
	fmt = get_le32(h + FH_FORMAT);
	if (fmt == 0)
		return rv_fail(err, "%s: format version 0 is invalid", what);
	if (fmt > STATE_FORMAT_VERSION)
		return rv_fail(err, "%s: format version %u, this ringvm reads "
			       "up to %d", what, fmt, STATE_FORMAT_VERSION);
	hlen = get_le32(h + FH_HDRLEN);
	if (hlen != STATE_HEADER_LEN)
		return rv_fail(err, "%s: header length %u, expected %d", what,
			       hlen, STATE_HEADER_LEN);
	if (get_le32(h + FH_CRC) != state_crc(h, FH_CRC))
		return rv_fail(err, "%s: header is corrupted (checksum)", what);
	/* Version 1 defines no flag: one set means a writer we do not
	 * understand, not one we may ignore. */
	if (get_le32(h + FH_FLAGS) != 0)
		return rv_fail(err, "%s: unknown header flags 0x%x", what,
			       get_le32(h + FH_FLAGS));
	if (get_le64(h + FH_RESERVED) != 0)
		return rv_fail(err, "%s: reserved header field is not zero",
			       what);
	n = strnlen((const char *)h + FH_VERSION, STATE_VERSION_FIELD);
	for (size_t i = 0; i < STATE_VERSION_FIELD; i++) {
		uint8_t ch = h[FH_VERSION + i];

		/* At most 31 characters, as the writer truncates, so a
		 * state has one encoding. */
		if (n == STATE_VERSION_FIELD ||
		    (i < n ? (ch < 0x20 || ch > 0x7e) : ch != 0))
			return rv_fail(err, "%s: ringvm version field is not a "
				       "NUL-padded printable string", what);
	}
	memcpy(r->ringvm_version, h + FH_VERSION, STATE_VERSION_FIELD);
	r->ringvm_version[STATE_VERSION_FIELD] = '\0';
	r->format_version = fmt;
	return 0;
}

/* Copies a section header's name field into name if it is valid. */
static int check_name(const uint8_t *sh, size_t off, char *name,
		      const char *what, struct rv_err *err)
{
	const char *f = (const char *)sh + SH_NAME;
	size_t n = strnlen(f, STATE_NAME_FIELD);

	if (n == 0)
		return rv_fail(err, "%s: section at offset %zu has an empty "
			       "name", what, off);
	for (size_t i = n; i < STATE_NAME_FIELD; i++)
		if (f[i] != '\0')
			n = STATE_NAME_FIELD;
	if (n > STATE_NAME_MAX)
		return rv_fail(err, "%s: section at offset %zu: name is not "
			       "NUL-padded", what, off);
	for (size_t i = 0; i < n; i++)
		if (!state_name_char_ok(f[i]))
			return rv_fail(err, "%s: section at offset %zu: name "
				       "has a character outside [a-z0-9_.-]",
				       what, off);
	memcpy(name, f, n);
	name[n] = '\0';
	return 0;
}

/* The end marker must be empty, version 0 and the last thing in the
 * file, so that a valid state has exactly one encoding. */
static int check_end(const struct state_reader *r, const uint8_t *sh,
		     size_t off, const char *what, struct rv_err *err)
{
	uint64_t plen = get_le64(sh + SH_LEN);
	size_t after = r->len - off - STATE_SECTION_HDR_LEN;

	if (plen != 0)
		return rv_fail(err, "%s: end marker has a non-empty payload "
			       "(%llu bytes)", what, (unsigned long long)plen);
	if (get_le32(sh + SH_VERSION) != 0)
		return rv_fail(err, "%s: end marker has version %u", what,
			       get_le32(sh + SH_VERSION));
	if (after != 0)
		return rv_fail(err, "%s: %zu bytes after the end marker", what,
			       after);
	return 0;
}

static int add_section(struct state_reader *r, unsigned int *cap,
		       const char *what, struct rv_err *err)
{
	struct state_section_ref *p;
	unsigned int n;

	if (r->nsec < *cap)
		return 0;
	if (r->nsec >= STATE_MAX_SECTIONS)
		return rv_fail(err, "%s: more than %d sections", what,
			       STATE_MAX_SECTIONS);
	n = *cap ? *cap * 2 : 16;
	if (n > STATE_MAX_SECTIONS)
		n = STATE_MAX_SECTIONS;
	p = realloc(r->sec, n * sizeof(*p));
	if (!p)
		return rv_fail(err, "%s: out of memory for %u sections", what,
			       n);
	r->sec = p;
	*cap = n;
	return 0;
}

/* Validates the section at off and, unless it is the end marker, appends
 * it to r->sec. Returns 1 at the end marker, 0 to go on, -1 on error. */
static int next_section(struct state_reader *r, size_t *off, unsigned int *cap,
			const char *what, struct rv_err *err)
{
	size_t left = r->len - *off;
	const uint8_t *sh = r->buf + *off;
	struct state_section_ref *s;
	char name[STATE_NAME_MAX + 1];
	uint64_t plen;

	if (left == 0)
		return rv_fail(err, "%s: truncated: no end marker after %u "
			       "sections", what, r->nsec);
	if (left < STATE_SECTION_HDR_LEN)
		return rv_fail(err, "%s: truncated: section header at offset "
			       "%zu needs %d bytes, %zu left", what, *off,
			       STATE_SECTION_HDR_LEN, left);
	if (get_le32(sh + SH_HDRCRC) != state_crc(sh, SH_HDRCRC))
		return rv_fail(err, "%s: section header at offset %zu is "
			       "corrupted (checksum)", what, *off);
	if (check_name(sh, *off, name, what, err) < 0)
		return -1;
	if (strcmp(name, STATE_END_NAME) == 0)
		return check_end(r, sh, *off, what, err) < 0 ? -1 : 1;

	left -= STATE_SECTION_HDR_LEN;
	plen = get_le64(sh + SH_LEN);
	if (plen > left)
		return rv_fail(err, "%s: truncated: section %s at offset %zu "
			       "declares %llu bytes, %zu left", what, name,
			       *off, (unsigned long long)plen, left);
	if (get_le32(sh + SH_PAYCRC) !=
	    state_crc(sh + STATE_SECTION_HDR_LEN, (size_t)plen))
		return rv_fail(err, "%s: section %s is corrupted (checksum)",
			       what, name);
	for (unsigned int i = 0; i < r->nsec; i++)
		if (strcmp(r->sec[i].name, name) == 0)
			return rv_fail(err, "%s: duplicate section %s", what,
				       name);
	if (add_section(r, cap, what, err) < 0)
		return -1;
	s = &r->sec[r->nsec++];
	memcpy(s->name, name, sizeof(name));
	s->version = get_le32(sh + SH_VERSION);
	s->payload = sh + STATE_SECTION_HDR_LEN;
	s->len = plen;
	*off += STATE_SECTION_HDR_LEN + (size_t)plen;
	return 0;
}

int state_reader_open(struct state_reader *r, const uint8_t *buf, size_t len,
		      const char *what, struct rv_err *err)
{
	size_t off = STATE_HEADER_LEN;
	unsigned int cap = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = len;
	if (check_header(r, what, err) < 0)
		goto fail;
	while ((rc = next_section(r, &off, &cap, what, err)) == 0)
		;
	if (rc < 0)
		goto fail;
	return 0;
fail:
	state_reader_free(r);
	return -1;
}

void state_reader_free(struct state_reader *r)
{
	free(r->sec);
	free(r->owned_buf);
	memset(r, 0, sizeof(*r));
}

bool state_has_section(const struct state_reader *r, const char *name)
{
	for (unsigned int i = 0; i < r->nsec; i++)
		if (strcmp(r->sec[i].name, name) == 0)
			return true;
	return false;
}
