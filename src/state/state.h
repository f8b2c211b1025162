/* The snapshot (and, later, migration) state format: a header and a list
 * of named, versioned, checksummed sections. A low layer like util/: the
 * vm layer and each device write and read their own sections through it;
 * it knows no device.
 *
 * File layout, all integers little-endian:
 *
 *   header (64 bytes)
 *     0  magic "RINGVMST"                      8 bytes
 *     8  format version (STATE_FORMAT_VERSION) u32
 *    12  header length (64)                    u32
 *    16  ringvm version, NUL-padded            32 bytes
 *    48  flags (0)                             u32
 *    52  reserved (0)                          u64
 *    60  CRC-32 of bytes 0..59                 u32
 *   sections, each
 *     0  name, NUL-padded ([a-z0-9_.-], 1..31 chars)  32 bytes
 *    32  section version                       u32
 *    36  payload length                        u64
 *    44  CRC-32 of the payload                 u32
 *    48  CRC-32 of bytes 0..47 of this header  u32
 *    52  payload
 *   a last section named "end" with an empty payload.
 *
 * The reader checks everything before anyone looks at a section: magic,
 * format version, both checksums of every section, names, lengths that stay
 * inside the buffer, unique names, the end marker, nothing after it. So a
 * truncated, corrupted, foreign or newer file is refused with one line
 * naming what is wrong, before any guest state is touched. */
#ifndef RINGVM_STATE_STATE_H
#define RINGVM_STATE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define STATE_MAGIC           "RINGVMST"
#define STATE_FORMAT_VERSION  1
#define STATE_HEADER_LEN      64
#define STATE_SECTION_HDR_LEN 52
#define STATE_NAME_MAX        31
/* A state file is small (devices and vCPUs; guest RAM is elsewhere). */
#define STATE_MAX_FILE        (64u << 20)
#define STATE_MAX_SECTIONS    4096

/* ---- writing ---- */

/* An in-memory state being built. Errors (out of memory, a bad section
 * name, a put outside a section) are sticky: the writer goes on accepting
 * calls and state_writer_finish reports the first one. */
struct state_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t section_start;   /* offset of the open section's header */
	bool in_section;
	bool failed;
	struct rv_err err;      /* the first error */
	unsigned int nsections;
};

/* ringvm_version: written into the header (truncated to 31 chars). */
void state_writer_init(struct state_writer *w, const char *ringvm_version);
void state_writer_free(struct state_writer *w);

void state_begin(struct state_writer *w, const char *name, uint32_t version);
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_bool(struct state_writer *w, bool v);
void state_put_bytes(struct state_writer *w, const void *p, size_t n);
/* A length-prefixed (u32) string, without its NUL. */
void state_put_str(struct state_writer *w, const char *s);
void state_end(struct state_writer *w);

/* Appends the end marker. On success *buf and *len describe the whole state
 * (owned by w until state_writer_free). */
int state_writer_finish(struct state_writer *w, const uint8_t **buf,
			size_t *len, struct rv_err *err);

/* Writes buf to path atomically: a temporary file in the same directory,
 * fsync, rename. A failure leaves any existing file at path untouched. */
int state_write_file(const char *path, const uint8_t *buf, size_t len,
		     struct rv_err *err);

/* ---- reading ---- */

struct state_section_ref {
	char name[STATE_NAME_MAX + 1];
	uint32_t version;
	const uint8_t *payload;
	uint64_t len;
};

struct state_reader {
	const uint8_t *buf;      /* not owned unless owned_buf */
	size_t len;
	uint8_t *owned_buf;      /* from state_read_file */
	uint32_t format_version;
	char ringvm_version[33];
	struct state_section_ref *sec;
	unsigned int nsec;
};

/* Validates the whole buffer (see the top of this file). buf must outlive
 * the reader. what names the input in messages ("state file vm.state"). */
int state_reader_open(struct state_reader *r, const uint8_t *buf, size_t len,
		      const char *what, struct rv_err *err);
/* Reads (at most STATE_MAX_FILE bytes) and validates a file. */
int state_read_file(struct state_reader *r, const char *path,
		    struct rv_err *err);
void state_reader_free(struct state_reader *r);

bool state_has_section(const struct state_reader *r, const char *name);

/* A position inside one section's payload. Reads past its end return
 * zeros and mark the cursor bad; state_cursor_finish then reports it. */
struct state_cursor {
	const struct state_section_ref *sec;
	uint64_t off;
	bool bad;
	char why[96];            /* what went wrong first */
};

/* Finds section name. Fails (one line, naming the section) if it is
 * missing or its version is newer than max_version. *version_out may be
 * NULL; otherwise it receives the section's version. */
int state_section(const struct state_reader *r, const char *name,
		  uint32_t max_version, struct state_cursor *c,
		  uint32_t *version_out, struct rv_err *err);

uint8_t state_get_u8(struct state_cursor *c);
uint16_t state_get_u16(struct state_cursor *c);
uint32_t state_get_u32(struct state_cursor *c);
uint64_t state_get_u64(struct state_cursor *c);
/* A byte other than 0 or 1 marks the cursor bad. */
bool state_get_bool(struct state_cursor *c);
void state_get_bytes(struct state_cursor *c, void *dst, size_t n);
/* Copies a string of at most cap - 1 bytes (NUL-terminated); a longer one,
 * or one holding a NUL, marks the cursor bad. */
void state_get_str(struct state_cursor *c, char *dst, size_t cap);
/* A device found a value it cannot accept (e.g. a queue index past the
 * queue size): marks the cursor bad with that reason. */
void state_cursor_reject(struct state_cursor *c, const char *why);
/* 0 if every read was in bounds and accepted and the payload was used up
 * exactly; else -1 with "state section NAME: <why>". */
int state_cursor_finish(struct state_cursor *c, struct rv_err *err);

#endif
