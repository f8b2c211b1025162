/* Reading one section's payload. Errors are sticky and reported once, by
 * state_cursor_finish, so a device's load code reads its fields in a row
 * and checks at the end; past the first problem every get returns zeros. */
#include "state/state.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/le.h"

static void cbad(struct state_cursor *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void cbad(struct state_cursor *c, const char *fmt, ...)
{
	va_list ap;

	if (c->bad)
		return;
	c->bad = true;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

int state_section(const struct state_reader *r, const char *name,
		  uint32_t max_version, struct state_cursor *c,
		  uint32_t *version_out, struct rv_err *err)
{
	const struct state_section_ref *s = NULL;

	memset(c, 0, sizeof(*c));
	c->bad = true;                  /* until a section is found */
	snprintf(c->why, sizeof(c->why), "no such section");
	for (unsigned int i = 0; i < r->nsec && !s; i++)
		if (strcmp(r->sec[i].name, name) == 0)
			s = &r->sec[i];
	if (!s)
		return rv_fail(err, "state section %s is missing", name);
	if (s->version > max_version)
		return rv_fail(err, "state section %s is version %u, this "
			       "ringvm reads up to %u", name, s->version,
			       max_version);
	c->sec = s;
	c->bad = false;
	c->why[0] = '\0';
	if (version_out)
		*version_out = s->version;
	return 0;
}

/* The next n bytes of the payload, or NULL (and the cursor bad). */
static const uint8_t *take(struct state_cursor *c, size_t n, const char *what)
{
	const uint8_t *p;

	if (c->bad || !c->sec)
		return NULL;
	if (n > c->sec->len - c->off) {
		cbad(c, "%s at offset %llu runs past the end (needs %zu "
		     "bytes, %llu left)", what, (unsigned long long)c->off, n,
		     (unsigned long long)(c->sec->len - c->off));
		return NULL;
	}
	p = c->sec->payload + c->off;
	c->off += n;
	return p;
}

uint8_t state_get_u8(struct state_cursor *c)
{
	const uint8_t *p = take(c, 1, "u8");

	return p ? p[0] : 0;
}

uint16_t state_get_u16(struct state_cursor *c)
{
	const uint8_t *p = take(c, 2, "u16");

	return p ? get_le16(p) : 0;
}

uint32_t state_get_u32(struct state_cursor *c)
{
	const uint8_t *p = take(c, 4, "u32");

	return p ? get_le32(p) : 0;
}

uint64_t state_get_u64(struct state_cursor *c)
{
	const uint8_t *p = take(c, 8, "u64");

	return p ? get_le64(p) : 0;
}

bool state_get_bool(struct state_cursor *c)
{
	uint64_t off = c->off;
	const uint8_t *p = take(c, 1, "bool");

	if (!p)
		return false;
	if (p[0] > 1) {
		cbad(c, "bool at offset %llu is %u", (unsigned long long)off,
		     p[0]);
		return false;
	}
	return p[0];
}

void state_get_bytes(struct state_cursor *c, void *dst, size_t n)
{
	const uint8_t *p = take(c, n, "bytes");

	if (n == 0)
		return;
	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

void state_get_str(struct state_cursor *c, char *dst, size_t cap)
{
	uint64_t off = c->off;
	uint32_t n = state_get_u32(c);
	const uint8_t *p;

	if (cap)
		dst[0] = '\0';
	if (c->bad)
		return;
	if (cap == 0 || n > cap - 1) {
		cbad(c, "string at offset %llu is %u bytes, at most %zu fit",
		     (unsigned long long)off, n, cap ? cap - 1 : 0);
		return;
	}
	p = take(c, n, "string");
	if (!p)
		return;
	if (memchr(p, '\0', n)) {
		cbad(c, "string at offset %llu holds a NUL",
		     (unsigned long long)off);
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

void state_cursor_reject(struct state_cursor *c, const char *why)
{
	cbad(c, "%s", why);
}

int state_cursor_finish(struct state_cursor *c, struct rv_err *err)
{
	const char *name = c->sec ? c->sec->name : "(none)";

	if (!c->sec)
		return rv_fail(err, "state section %s: %s", name,
			       c->bad ? c->why : "cursor never opened");
	if (c->bad)
		return rv_fail(err, "state section %s: %s", name, c->why);
	if (c->off != c->sec->len)
		return rv_fail(err, "state section %s: %llu bytes left unread",
			       name, (unsigned long long)(c->sec->len - c->off));
	return 0;
}
