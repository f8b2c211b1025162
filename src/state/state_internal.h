/* What the state writer, reader and cursor share and nobody else needs:
 * section name rules and the checksum. */
#ifndef RINGVM_STATE_STATE_INTERNAL_H
#define RINGVM_STATE_STATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#define STATE_NAME_FIELD 32            /* NUL-padded name in a header */
#define STATE_END_NAME   "end"

/* Section header field offsets. */
#define SH_NAME     0
#define SH_VERSION  32
#define SH_LEN      36
#define SH_PAYCRC   44
#define SH_HDRCRC   48

/* File header field offsets. */
#define FH_MAGIC    0
#define FH_FORMAT   8
#define FH_HDRLEN   12
#define FH_VERSION  16
#define FH_FLAGS    48
#define FH_RESERVED 52
#define FH_CRC      60

#define STATE_VERSION_FIELD 32

static inline bool state_name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-';
}

static inline uint32_t state_crc(const uint8_t *p, size_t n)
{
	/* crc32_z: the length is a size_t, no 4 GiB chunking needed. */
	return (uint32_t)crc32_z(0, p, n);
}

#endif
