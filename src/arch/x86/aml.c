#include "arch/x86/aml.h"

#include <string.h>

/* Opcodes and prefixes (ACPI 6.x section 20.3). */
#define AML_ZERO        0x00
#define AML_ONE         0x01
#define AML_NAME        0x08
#define AML_BYTE_PFX    0x0a
#define AML_WORD_PFX    0x0b
#define AML_DWORD_PFX   0x0c
#define AML_STRING_PFX  0x0d
#define AML_QWORD_PFX   0x0e
#define AML_SCOPE       0x10
#define AML_BUFFER      0x11
#define AML_PACKAGE     0x12
#define AML_DUAL_NAME   0x2e
#define AML_MULTI_NAME  0x2f
#define AML_ROOT_CHAR   0x5c
#define AML_EXT_PFX     0x5b
#define AML_DEVICE      0x82    /* after AML_EXT_PFX */
#define AML_ONES        0xff

/* A PkgLength covers itself plus what follows; 1 byte encodes up to 63,
 * otherwise 1..3 extra bytes hold 8 bits each above a 4-bit low nibble. */
#define AML_PKGLEN_MAX  0x0fffffffU

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = buf ? cap : 0;
}

int aml_finish(const struct aml *a)
{
	return a->bad || a->depth ? -1 : 0;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->bad)
		return;
	if (n > a->cap - a->len) {
		a->bad = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned int n)
{
	uint8_t b[8];
	unsigned int i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

static bool name_lead(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return name_lead(c) || (c >= '0' && c <= '9');
}

/* Parses one '.'-separated segment of at most 4 chars into seg. */
static const char *name_seg(const char *p, char seg[4], bool *ok)
{
	unsigned int n = 0;

	memset(seg, '_', 4);
	while (*p && *p != '.') {
		if (n == 4 || !(n ? name_char(*p) : name_lead(*p))) {
			*ok = false;
			return p;
		}
		seg[n++] = *p++;
	}
	if (n == 0 || (*p == '.' && p[1] == '\0'))
		*ok = false;
	return *p == '.' ? p + 1 : p;
}

void aml_name_string(struct aml *a, const char *path)
{
	char segs[AML_MAX_DEPTH][4];
	unsigned int n = 0, i;
	bool ok = true;
	const char *p = path;

	if (*p == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	}
	while (*p && ok) {
		if (n == AML_MAX_DEPTH) {
			ok = false;
			break;
		}
		p = name_seg(p, segs[n++], &ok);
	}
	if (!ok || (n == 0 && *path != '\\')) {
		a->bad = true;
		return;
	}
	if (n == 0)
		aml_byte(a, AML_ZERO);  /* NullName: the root itself */
	else if (n == 2)
		aml_byte(a, AML_DUAL_NAME);
	else if (n > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)n);
	}
	for (i = 0; i < n; i++)
		aml_bytes(a, segs[i], 4);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v == UINT64_MAX) {
		aml_byte(a, AML_ONES);  /* DSDT revision 2: 64-bit integers */
	} else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PFX);
		aml_le(a, v, 1);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PFX);
		aml_le(a, v, 2);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PFX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PFX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	const char *c;

	/* AML strings are ASCII 0x01..0x7f, NUL-terminated. */
	for (c = s; *c; c++) {
		if ((unsigned char)*c > 0x7f) {
			a->bad = true;
			return;
		}
	}
	aml_byte(a, AML_STRING_PFX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	unsigned int l[3], i;
	int h[4];
	uint8_t b[4];

	if (strlen(id) != 7) {
		a->bad = true;
		return;
	}
	/* Three letters in 5 bits each ('A' = 1), then four hex digits. */
	for (i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			a->bad = true;
			return;
		}
		l[i] = (unsigned int)(id[i] - 'A' + 1);
	}
	for (i = 0; i < 4; i++) {
		h[i] = hex_digit(id[3 + i]);
		if (h[i] < 0) {
			a->bad = true;
			return;
		}
	}
	b[0] = (uint8_t)((l[0] << 2) | (l[1] >> 3));
	b[1] = (uint8_t)(((l[1] & 7) << 5) | l[2]);
	b[2] = (uint8_t)((h[0] << 4) | h[1]);
	b[3] = (uint8_t)((h[2] << 4) | h[3]);
	aml_byte(a, AML_DWORD_PFX);
	aml_bytes(a, b, 4);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_name_string(a, name);
}

static void pkg_begin(struct aml *a)
{
	if (a->depth == AML_MAX_DEPTH) {
		a->bad = true;
		return;
	}
	a->open[a->depth++] = a->len;
}

void aml_end(struct aml *a)
{
	size_t start, body, total;
	unsigned int extra;
	uint8_t enc[4];

	if (a->depth == 0) {
		a->bad = true;
		return;
	}
	start = a->open[--a->depth];
	if (a->bad)
		return;
	body = a->len - start;
	if (body + 1 <= 0x3f)
		extra = 0;
	else if (body + 2 <= 0xfff)
		extra = 1;
	else if (body + 3 <= 0xfffff)
		extra = 2;
	else
		extra = 3;
	total = body + 1 + extra;
	if (total > AML_PKGLEN_MAX || 1 + extra > a->cap - a->len) {
		a->bad = true;
		return;
	}
	if (extra == 0) {
		enc[0] = (uint8_t)total;
	} else {
		unsigned int i;

		enc[0] = (uint8_t)((extra << 6) | (total & 0x0f));
		for (i = 1; i <= extra; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->buf + start + 1 + extra, a->buf + start, body);
	memcpy(a->buf + start, enc, 1 + extra);
	a->len += 1 + extra;
}

void aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE);
	pkg_begin(a);
	aml_name_string(a, path);
}

void aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_PFX);
	aml_byte(a, AML_DEVICE);
	pkg_begin(a);
	aml_name_string(a, name);
}

void aml_package_begin(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE);
	pkg_begin(a);
	aml_byte(a, nelems);
}

void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n)
{
	aml_byte(a, AML_BUFFER);
	pkg_begin(a);
	aml_integer(a, n);
	aml_bytes(a, bytes, n);
	aml_end(a);
}

/* Resource descriptors. */

void aml_res_io(struct aml *r, uint16_t base, uint8_t len)
{
	aml_byte(r, 0x47);      /* small item 0x08, length 7 */
	aml_byte(r, 0x01);      /* decodes 16 address bits */
	aml_le(r, base, 2);     /* minimum base */
	aml_le(r, base, 2);     /* maximum base: fixed */
	aml_byte(r, 1);         /* alignment */
	aml_byte(r, len);
}

void aml_res_irq(struct aml *r, unsigned int irq)
{
	/* The 2-byte form: edge-triggered, active-high, exclusive (ISA). */
	if (irq > 15) {
		r->bad = true;
		return;
	}
	aml_byte(r, 0x22);
	aml_le(r, 1U << irq, 2);
}

/* Word/DWord Address Space Descriptors for a bridge window: a producer
 * (general flags bit 0 clear) with fixed minimum and maximum, so the
 * granularity is 0 and the length is max - min + 1. */
#define RES_ADDR_FIXED  0x0c
#define RES_TYPE_MEM    0
#define RES_TYPE_IO     1
#define RES_TYPE_BUS    2

static void res_word(struct aml *r, uint8_t type, uint8_t tflags,
		     uint16_t min, uint16_t max)
{
	uint32_t len = (uint32_t)max - min + 1;

	if (max < min || len > UINT16_MAX) {
		r->bad = true;
		return;
	}
	aml_byte(r, 0x88);
	aml_le(r, 13, 2);
	aml_byte(r, type);
	aml_byte(r, RES_ADDR_FIXED);
	aml_byte(r, tflags);
	aml_le(r, 0, 2);        /* granularity */
	aml_le(r, min, 2);
	aml_le(r, max, 2);
	aml_le(r, 0, 2);        /* translation offset */
	aml_le(r, len, 2);
}

void aml_res_bus_window(struct aml *r, uint16_t min, uint16_t max)
{
	res_word(r, RES_TYPE_BUS, 0, min, max);
}

void aml_res_io_window(struct aml *r, uint16_t min, uint16_t max)
{
	res_word(r, RES_TYPE_IO, 0x03 /* ISA and non-ISA ranges */, min, max);
}

void aml_res_mem32_window(struct aml *r, uint32_t min, uint32_t max)
{
	uint64_t len = (uint64_t)max - min + 1;

	if (max < min || len > UINT32_MAX) {
		r->bad = true;
		return;
	}
	aml_byte(r, 0x87);
	aml_le(r, 23, 2);
	aml_byte(r, RES_TYPE_MEM);
	aml_byte(r, RES_ADDR_FIXED);
	aml_byte(r, 0x01);      /* read-write, non-cacheable */
	aml_le(r, 0, 4);        /* granularity */
	aml_le(r, min, 4);
	aml_le(r, max, 4);
	aml_le(r, 0, 4);        /* translation offset */
	aml_le(r, len, 4);
}

void aml_res_end(struct aml *r)
{
	aml_byte(r, 0x79);
	aml_byte(r, 0x00);      /* zero checksum: treated as valid */
}
