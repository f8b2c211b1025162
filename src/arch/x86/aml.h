/* A tiny AML byte-code emitter (ACPI 6.x, chapter 20): just the terms the
 * DSDT of a ringvm machine needs. Writes into a caller's buffer; any
 * overflow or unbalanced nesting latches an error that aml_finish reports,
 * so callers emit without checking every step. */
#ifndef RINGVM_ARCH_X86_AML_H
#define RINGVM_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool bad;                      /* overflow or nesting error */
	size_t open[AML_MAX_DEPTH];    /* where each open PkgLength goes */
	unsigned int depth;
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* 0 when everything fit and every begin had its end; -1 otherwise. */
int aml_finish(const struct aml *a);

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* "\\_SB_.PCI0", "_S5_", "COM1": segments shorter than 4 are padded
 * with '_'; an optional leading '\\' anchors at the root. */
void aml_name_string(struct aml *a, const char *path);
/* The shortest ComputationalData encoding of v (Zero/One/Ones/prefix). */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0501"): the compressed 32-bit PnP ID as a DWordConst. */
void aml_eisaid(struct aml *a, const char *id);

/* NameOp and the name; the caller then emits exactly one data object. */
void aml_name(struct aml *a, const char *name);
/* Opens a PkgLength-framed term; close each with aml_end. */
void aml_scope_begin(struct aml *a, const char *path);
void aml_device_begin(struct aml *a, const char *name);
void aml_package_begin(struct aml *a, uint8_t nelems);
void aml_end(struct aml *a);
/* A whole Buffer object holding n bytes. */
void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n);

/* Resource descriptors (ACPI 6.x section 6.4) appended as raw bytes, for a
 * ResourceTemplate that is then wrapped with aml_buffer. */
void aml_res_io(struct aml *r, uint16_t base, uint8_t len);
void aml_res_irq(struct aml *r, unsigned int irq);
void aml_res_bus_window(struct aml *r, uint16_t min, uint16_t max);
void aml_res_io_window(struct aml *r, uint16_t min, uint16_t max);
void aml_res_mem32_window(struct aml *r, uint32_t min, uint32_t max);
void aml_res_end(struct aml *r);

#endif
