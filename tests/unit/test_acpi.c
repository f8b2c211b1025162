/* ACPI tables: structure and checksums checked here byte by byte, then
 * each table disassembled and recompiled by ACPICA's iasl, the same parser
 * family Linux uses. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

static const unsigned int test_ncpus[] = { 1, 2, 64, 254 };

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

struct built {
	uint8_t buf[X86_ACPI_MAX];
	struct acpi_tables out;
	unsigned int ncpus;
};

static void build(struct built *b, unsigned int ncpus)
{
	struct acpi_config cfg = { .ncpus = ncpus, .base_gpa = X86_ACPI_GPA };
	struct rv_err err = { "" };

	memset(b, 0xa5, sizeof(*b));  /* garbage: tables must not rely on 0s */
	b->ncpus = ncpus;
	assert_int_equal(acpi_build(b->buf, sizeof(b->buf), &cfg, &b->out,
				    &err), 0);
	assert_int_equal(b->out.rsdp_gpa, X86_ACPI_GPA);
	assert_true(b->out.len > 0 && b->out.len <= sizeof(b->buf));
}

/* The table at gpa, checked to lie inside what acpi_build reported, with
 * the expected signature, a sane length and a zero byte sum. */
static const uint8_t *table_at(const struct built *b, uint64_t gpa,
			       const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	assert_true(gpa >= X86_ACPI_GPA);
	assert_true(gpa - X86_ACPI_GPA + 36 <= b->out.len);
	assert_int_equal(gpa % 8, 0);
	t = b->buf + (gpa - X86_ACPI_GPA);
	assert_memory_equal(t, sig, 4);
	len = le32(t + 4);
	assert_true(len >= 36);
	assert_true(gpa - X86_ACPI_GPA + len <= b->out.len);
	assert_int_equal(sum8(t, len), 0);
	assert_memory_equal(t + 10, "RINGVM", 6);
	assert_memory_equal(t + 16, "RINGVM  ", 8);
	assert_int_not_equal(le32(t + 24), 0);          /* OEM revision */
	assert_memory_equal(t + 28, "RNGV", 4);         /* creator ID */
	assert_int_not_equal(le32(t + 32), 0);          /* creator revision */
	return t;
}

struct tables {
	const uint8_t *xsdt, *fadt, *madt, *dsdt;
};

static void find_tables(const struct built *b, struct tables *t)
{
	const uint8_t *r = b->buf;
	uint32_t n, i;

	/* RSDP: ACPI 2.0+, both checksums, XSDT only. */
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum8(r, 20), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(le32(r + 20), 36);
	assert_int_equal(sum8(r, 36), 0);
	assert_memory_equal(r + 9, "RINGVM", 6);
	assert_int_equal(le32(r + 16), 0);              /* no RSDT */

	memset(t, 0, sizeof(*t));
	t->xsdt = table_at(b, le64(r + 24), "XSDT");
	assert_int_equal(t->xsdt[8], 1);
	assert_int_equal((le32(t->xsdt + 4) - 36) % 8, 0);
	n = (le32(t->xsdt + 4) - 36) / 8;
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		uint64_t gpa = le64(t->xsdt + 36 + 8 * i);

		assert_true(gpa >= X86_ACPI_GPA &&
			    gpa - X86_ACPI_GPA + 4 <= b->out.len);
		if (!memcmp(b->buf + (gpa - X86_ACPI_GPA), "FACP", 4)) {
			assert_null(t->fadt);
			t->fadt = table_at(b, gpa, "FACP");
		} else {
			assert_null(t->madt);
			t->madt = table_at(b, gpa, "APIC");
		}
	}
	assert_non_null(t->fadt);
	assert_non_null(t->madt);
	/* The DSDT hangs off the FADT, through both address fields. */
	assert_int_equal(le32(t->fadt + 40), le64(t->fadt + 140));
	t->dsdt = table_at(b, le64(t->fadt + 140), "DSDT");
}

static void assert_no_overlap(const struct built *b, const struct tables *t)
{
	const uint8_t *tab[] = { t->xsdt, t->fadt, t->madt, t->dsdt };
	size_t i, j;

	for (i = 0; i < 4; i++) {
		size_t s = (size_t)(tab[i] - b->buf);
		size_t e = s + le32(tab[i] + 4);

		assert_true(s >= 36);                   /* after the RSDP */
		for (j = 0; j < 4; j++) {
			size_t s2 = (size_t)(tab[j] - b->buf);

			if (i != j)
				assert_true(s2 >= e ||
					    s2 + le32(tab[j] + 4) <= s);
		}
	}
}

static void assert_gas_io8(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1);      /* System I/O */
	assert_int_equal(g[1], 8);      /* bit width */
	assert_int_equal(g[2], 0);      /* bit offset */
	assert_int_equal(g[3], 1);      /* byte access */
	assert_int_equal(le64(g + 4), port);
}

static void check_fadt(const uint8_t *f)
{
	uint32_t flags = le32(f + 112);
	uint16_t boot = le16(f + 109);

	assert_int_equal(le32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_true(flags & (1U << 20));        /* HW_REDUCED_ACPI */
	assert_true(flags & (1U << 10));        /* RESET_REG_SUP */
	assert_true(boot & (1U << 2));          /* VGA not present */
	assert_true(boot & (1U << 5));          /* CMOS RTC not present */
	assert_true(boot & (1U << 1));          /* i8042 with a keyboard */
	assert_false(boot & (1U << 3));         /* MSI is supported */
	assert_int_equal(le32(f + 36), 0);      /* no FACS */
	assert_int_equal(le64(f + 132), 0);
	assert_int_equal(le16(f + 46), 0);      /* no SCI */
	assert_gas_io8(f + 116, X86_PORT_ACPI_RESET);
	assert_int_equal(f[128], X86_ACPI_RESET_VALUE);
	assert_gas_io8(f + 244, X86_PORT_ACPI_SLEEP_CTL);
	assert_gas_io8(f + 256, X86_PORT_ACPI_SLEEP_STS);
	/* Hardware-reduced: no fixed PM1 blocks at all. */
	assert_int_equal(le32(f + 56), 0);
	assert_int_equal(le32(f + 64), 0);
	assert_int_equal(le64(f + 148 + 4), 0);
	assert_int_equal(le64(f + 172 + 4), 0);
}

static void check_madt(const uint8_t *m, unsigned int ncpus)
{
	uint32_t len = le32(m + 4), off;
	uint8_t seen[256] = { 0 };
	unsigned int lapics = 0, ioapics = 0, nmis = 0, ioapic_id = 0;

	assert_int_equal(le32(m + 36), X86_LAPIC_GPA);
	for (off = 44; off < len; off += m[off + 1]) {
		const uint8_t *e = m + off;

		assert_true(off + 2 <= len);
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:         /* Processor Local APIC */
			assert_int_equal(e[1], 8);
			assert_true(le32(e + 4) & 1);   /* enabled */
			assert_int_equal(e[2], e[3]);   /* UID == APIC ID */
			assert_true(e[3] < ncpus);
			assert_int_equal(seen[e[3]], 0);
			seen[e[3]] = 1;
			lapics++;
			break;
		case 1:         /* I/O APIC */
			assert_int_equal(e[1], 12);
			assert_int_equal(le32(e + 4), X86_IOAPIC_GPA);
			assert_int_equal(le32(e + 8), 0);
			ioapic_id = e[2];
			ioapics++;
			break;
		case 4:         /* Local APIC NMI */
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);   /* all processors */
			assert_int_equal(e[5], 1);      /* LINT1 */
			nmis++;
			break;
		default:        /* no ISOs: KVM routes GSI n to pin n */
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	assert_int_equal(off, len);
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(nmis, 1);
	assert_int_equal(seen[ioapic_id], 0);  /* no APIC ID collision */
	assert_true(ioapic_id < 0xff);
}

/* Finds Name(_S5_, Package(){typ, ...}) in the AML and returns typ. */
static int dsdt_s5_typ(const uint8_t *d)
{
	uint32_t len = le32(d + 4), i;

	for (i = 36; i + 9 < len; i++) {
		const uint8_t *p = d + i;

		if (memcmp(p, "\x08_S5_\x12", 6))
			continue;
		/* 1-byte PkgLength, 4 elements, then the first element. */
		assert_true(p[6] < 0x40);
		assert_int_equal(p[7], 4);
		if (p[8] == 0x0a)
			return p[9];
		return p[8] <= 1 ? p[8] : -1;
	}
	return -1;
}

static void test_tables_valid(void **state)
{
	static struct built b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(test_ncpus) / sizeof(test_ncpus[0]); i++) {
		struct tables t;

		build(&b, test_ncpus[i]);
		find_tables(&b, &t);
		assert_no_overlap(&b, &t);
		check_fadt(t.fadt);
		check_madt(t.madt, test_ncpus[i]);
		assert_int_equal(t.dsdt[8], 2);
		assert_int_equal(dsdt_s5_typ(t.dsdt), X86_ACPI_S5_SLP_TYP);
		/* Everything acpi_build said it used ends with the DSDT. */
		assert_int_equal((size_t)(t.dsdt - b.buf) + le32(t.dsdt + 4),
				 b.out.len);
	}
}

static void test_build_errors(void **state)
{
	static struct built b;
	struct acpi_config cfg = { .ncpus = 2, .base_gpa = X86_ACPI_GPA };
	struct acpi_tables out;
	struct rv_err err;
	size_t cap, need;
	uint8_t *buf;

	(void)state;
	build(&b, 2);
	need = b.out.len;

	/* Every buffer short of the real size fails without writing past it
	 * (ASan watches the exact-size heap block); the exact size works. */
	for (cap = 0; cap <= need; cap++) {
		buf = malloc(cap ? cap : 1);
		assert_non_null(buf);
		memset(&err, 0, sizeof(err));
		if (cap < need) {
			assert_int_equal(acpi_build(buf, cap, &cfg, &out, &err),
					 -1);
			assert_true(strlen(err.msg) > 0);
		} else {
			assert_int_equal(acpi_build(buf, cap, &cfg, &out, &err),
					 0);
			assert_memory_equal(buf, b.buf, need);
		}
		free(buf);
	}

	cfg.ncpus = 0;
	memset(&err, 0, sizeof(err));
	assert_int_equal(acpi_build(b.buf, sizeof(b.buf), &cfg, &out, &err), -1);
	assert_non_null(strstr(err.msg, "vCPU"));
	cfg.ncpus = X86_MAX_VCPUS + 1;
	assert_int_equal(acpi_build(b.buf, sizeof(b.buf), &cfg, &out, &err), -1);
	cfg.ncpus = UINT32_MAX;
	assert_int_equal(acpi_build(b.buf, sizeof(b.buf), &cfg, &out, &err), -1);

	cfg.ncpus = 1;
	cfg.base_gpa = X86_ACPI_GPA + 8;        /* RSDP must be 16-aligned */
	assert_int_equal(acpi_build(b.buf, sizeof(b.buf), &cfg, &out, &err), -1);
	cfg.base_gpa = UINT64_MAX & ~15ULL;     /* would wrap */
	assert_int_equal(acpi_build(b.buf, sizeof(b.buf), &cfg, &out, &err), -1);
	cfg.base_gpa = X86_ACPI_GPA;
	assert_int_equal(acpi_build(NULL, 4096, &cfg, &out, &err), -1);
	assert_int_equal(acpi_build(b.buf, sizeof(b.buf), NULL, &out, &err), -1);
	/* A NULL error sink is allowed. */
	assert_int_equal(acpi_build(b.buf, 10, &cfg, &out, NULL), -1);
}

/* Decodes a PkgLength per ACPI 6.x 20.2.4; returns its value and the
 * number of bytes it took. */
static size_t pkglen_decode(const uint8_t *p, unsigned int *nbytes)
{
	unsigned int extra = p[0] >> 6, i;
	size_t v;

	*nbytes = 1 + extra;
	if (extra == 0)
		return p[0] & 0x3f;
	assert_int_equal(p[0] & 0x30, 0);       /* bits 5:4 reserved */
	v = p[0] & 0x0f;
	for (i = 1; i <= extra; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

static void test_aml_pkglength_boundaries(void **state)
{
	static const size_t sizes[] = { 0, 1, 57, 58, 59, 60, 61, 62, 63, 64,
					4086, 4087, 4088, 4089, 4090, 4091,
					70000, 1048566, 1048567, 1048568 };
	size_t cap = 1100000, i;
	uint8_t *buf = malloc(cap), *data = calloc(1, cap);

	(void)state;
	assert_non_null(buf);
	assert_non_null(data);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct aml a;
		unsigned int nb, want;
		size_t v;

		aml_init(&a, buf, cap);
		aml_buffer(&a, data, sizes[i]);
		assert_int_equal(aml_finish(&a), 0);
		assert_int_equal(buf[0], 0x11);
		v = pkglen_decode(buf + 1, &nb);
		/* Covers everything after the opcode, itself included. */
		assert_int_equal(v, a.len - 1);
		/* And uses the shortest form that can hold it. */
		want = v <= 0x3f ? 1 : v <= 0xfff ? 2 : v <= 0xfffff ? 3 : 4;
		assert_int_equal(nb, want);
	}
	free(buf);
	free(data);
}

static void test_aml_rejects_misuse(void **state)
{
	static const char *const bad_names[] = { "", "abcd", "1ABC", "ABCDE",
						 "AB..CD", "A.", "\\A-B" };
	uint8_t small[16], big[64];
	struct aml a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		aml_init(&a, big, sizeof(big));
		aml_name(&a, bad_names[i]);
		aml_integer(&a, 0);
		assert_int_equal(aml_finish(&a), -1);
	}
	/* Good names: padding, root, dual and multi segment paths. */
	aml_init(&a, big, sizeof(big));
	aml_name_string(&a, "\\_SB.PCI0.S1");
	assert_int_equal(aml_finish(&a), 0);
	assert_memory_equal(big, "\\\x2f\x03_SB_PCI0S1__", 15);

	aml_init(&a, big, sizeof(big));
	aml_end(&a);                            /* end without begin */
	assert_int_equal(aml_finish(&a), -1);
	aml_init(&a, big, sizeof(big));
	aml_scope_begin(&a, "\\_SB_");          /* begin without end */
	assert_int_equal(aml_finish(&a), -1);
	aml_init(&a, big, sizeof(big));
	aml_eisaid(&a, "pnp0501");
	assert_int_equal(aml_finish(&a), -1);
	aml_init(&a, big, sizeof(big));
	aml_eisaid(&a, "PNP0501");
	assert_int_equal(aml_finish(&a), 0);
	assert_memory_equal(big, "\x0c\x41\xd0\x05\x01", 5);
	aml_init(&a, big, sizeof(big));
	aml_res_irq(&a, 16);                    /* not an ISA IRQ */
	assert_int_equal(aml_finish(&a), -1);

	/* Overflow latches and never writes past the buffer. */
	memset(big, 0xee, sizeof(big));
	aml_init(&a, big, sizeof(small));
	aml_scope_begin(&a, "\\_SB_");
	aml_string(&a, "a string longer than the space left");
	aml_end(&a);
	assert_int_equal(aml_finish(&a), -1);
	assert_true(a.len <= sizeof(small));
	for (i = sizeof(small); i < sizeof(big); i++)
		assert_int_equal(big[i], 0xee);

	/* Integers take their shortest form, as iasl would encode them. */
	aml_init(&a, big, sizeof(big));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ULL);
	aml_integer(&a, UINT64_MAX);
	assert_int_equal(aml_finish(&a), 0);
	assert_int_equal(a.len, 1 + 1 + 2 + 3 + 5 + 9 + 1);
	assert_memory_equal(big, "\x00\x01\x0a\x02\x0b\x00\x01\x0c\x00\x00\x01"
			    "\x00\x0e\x00\x00\x00\x00\x01\x00\x00\x00\xff", 22);
}

/* --- iasl round trip ------------------------------------------------- */

static char *read_all(FILE *f)
{
	size_t cap = 4096, len = 0, n;
	char *s = malloc(cap);

	assert_non_null(s);
	while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			cap *= 2;
			s = realloc(s, cap);
			assert_non_null(s);
		}
	}
	s[len] = '\0';
	return s;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;

	if (!f)
		fail_msg("cannot open %s", path);
	s = read_all(f);
	fclose(f);
	return s;
}

/* Both take ownership of the text only when they fail. */

/* Runs cmd (in dir), returns its combined output; fails on exit != 0. */
static char *run(const char *dir, const char *cmd)
{
	char line[1024];
	FILE *p;
	char *out;
	int st;

	snprintf(line, sizeof(line), "cd '%s' && %s 2>&1", dir, cmd);
	p = popen(line, "r");
	assert_non_null(p);
	out = read_all(p);
	st = pclose(p);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		print_error("`%s` failed (status %d):\n%s", cmd, st, out);
		free(out);
		fail();
	}
	return out;
}

static void assert_clean(const char *what, char *text)
{
	static const char *const bad[] = { "Error", "Warning", "Incorrect",
					   "****", "Invalid" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strstr(text, bad[i])) {
			print_error("%s mentions \"%s\":\n%s", what, bad[i],
				    text);
			free(text);
			fail();
		}
	}
}

static void write_file(const char *dir, const char *name, const uint8_t *p,
		       size_t n)
{
	char path[768];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Disassembles name.dat, checks iasl found nothing wrong, recompiles the
 * .dsl and checks the result matches ours byte for byte after the header
 * (iasl stamps its own creator ID, so the header and checksum differ).
 * Returns the .dsl text. */
static char *iasl_round_trip(const char *dir, const char *name,
			     const uint8_t *t)
{
	uint32_t len = le32(t + 4);
	char cmd[256], path[256];
	char *out, *dsl, *aml;
	FILE *f;

	snprintf(path, sizeof(path), "%s.dat", name);
	write_file(dir, path, t, len);
	snprintf(cmd, sizeof(cmd), "iasl -d %s.dat", name);
	out = run(dir, cmd);
	assert_clean(cmd, out);
	free(out);
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, name);
	dsl = read_file(path);
	assert_clean(path, dsl);

	/* -on: keep "\_SB" as written instead of shortening it to "_SB". */
	snprintf(cmd, sizeof(cmd), "iasl -on -p re_%s %s.dsl", name, name);
	out = run(dir, cmd);
	if (!strstr(out, "0 Errors, 0 Warnings, 0 Remarks")) {
		print_error("`%s` complained:\n%s", cmd, out);
		free(out);
		fail();
	}
	free(out);
	snprintf(path, sizeof(path), "%s/re_%s.aml", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	aml = read_all(f);
	fclose(f);
	assert_int_equal(le32((const uint8_t *)aml + 4), len);
	assert_memory_equal(aml + 36, t + 36, len - 36);
	free(aml);
	return dsl;
}

static int make_tmpdir(void **state)
{
	static char dir[] = "/tmp/ringvm-acpi-XXXXXX";

	*state = mkdtemp(dir);
	return *state ? 0 : -1;
}

/* Without a shell, so it works even when PATH is what made the test fail. */
static int remove_tmpdir(void **state)
{
	const char *dir = *state;
	char path[768];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(dir);
}

static void test_iasl_round_trip(void **state)
{
	static const char *const kbd_dsl[] = {
		"EisaId (\"PNP0303\")",
		"0x0060,             // Range Minimum",
		"0x01,               // Length",
		"0x0064,             // Range Minimum",
		"0x01,               // Length",
		"IRQNoFlags ()\n                    {1}",
	};
	static struct built b;
	const char *dir = *state;
	size_t i;

	if (system("command -v iasl >/dev/null 2>&1") != 0)
		fail_msg("iasl not found: install acpica-tools "
			 "(apt-get install acpica-tools) to check ACPI tables");
	for (i = 0; i < sizeof(test_ncpus) / sizeof(test_ncpus[0]); i++) {
		struct tables t;
		const char *p;
		char *dsl;

		build(&b, test_ncpus[i]);
		find_tables(&b, &t);
		free(iasl_round_trip(dir, "xsdt", t.xsdt));

		dsl = iasl_round_trip(dir, "facp", t.fadt);
		assert_non_null(strstr(dsl, "Hardware Reduced (V5) : 1"));
		assert_non_null(strstr(dsl, "Reset Register Supported (V2) : 1"));
		assert_non_null(strstr(dsl,
			"8042 Present on ports 60/64 (V2) : 1"));
		free(dsl);

		dsl = iasl_round_trip(dir, "apic", t.madt);
		assert_non_null(strstr(dsl, "[I/O APIC]"));
		assert_non_null(strstr(dsl, "[Local APIC NMI]"));
		free(dsl);

		dsl = iasl_round_trip(dir, "dsdt", t.dsdt);
		assert_non_null(strstr(dsl, "Name (_S5, Package (0x04)"));
		assert_non_null(strstr(dsl, "EisaId (\"PNP0A03\")"));
		/* The _CRS buffers decode as resource templates, not as
		 * opaque bytes iasl gave up on. */
		assert_non_null(strstr(dsl, "WordBusNumber (ResourceProducer"));
		assert_non_null(strstr(dsl, "IO (Decode16,\n                    0x0CF8"));
		assert_non_null(strstr(dsl, "WordIO (ResourceProducer"));
		assert_non_null(strstr(dsl, "DWordMemory (ResourceProducer"));
		assert_non_null(strstr(dsl, "0xFEBFFFFF,         // Range Maximum"));
		assert_non_null(strstr(dsl, "EisaId (\"PNP0501\")"));
		assert_non_null(strstr(dsl, "IRQNoFlags ()\n                    {4}"));
		/* The keyboard: data port, command port (one byte each),
		 * IRQ 1, in that order. */
		p = strstr(dsl, "Device (PS2K)");
		assert_non_null(p);
		for (size_t j = 0; j < sizeof(kbd_dsl) / sizeof(kbd_dsl[0]);
		     j++) {
			p = strstr(p, kbd_dsl[j]);
			assert_non_null(p);
		}
		free(dsl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_valid),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_aml_pkglength_boundaries),
		cmocka_unit_test(test_aml_rejects_misuse),
		cmocka_unit_test_setup_teardown(test_iasl_round_trip,
						make_tmpdir, remove_tmpdir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
