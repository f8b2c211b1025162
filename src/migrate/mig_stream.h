/* The live migration stream: a versioned header, then records, each with
 * its own CRC-32, over a connected socket (Unix or TCP). Both directions
 * use records; the destination's answers are ACK and NACK.
 *
 *   header   "RINGVMMG", u32 version, u32 0, ringvm version (32 bytes,
 *            NUL-padded), u32 CRC-32 of the 48 bytes before   = 52 bytes
 *   record   u32 type, u32 flags (0), u64 payload length, payload,
 *            u32 CRC-32 of type, flags, length and payload
 *
 * Records, source to destination:
 *   HELLO   a state (state/state.h) with the "config" and "cpuid" sections:
 *           the destination builds the machine and checks the CPU, then
 *           answers ACK or NACK
 *   PAGES   u32 count, then count entries: u64 guest-physical address of a
 *           4 KiB page, bit 0 set for a page of zeros (no data follows),
 *           else 4096 bytes of data
 *   STATE   the whole state (vcpus, devices, ...) of the paused source; the
 *           destination answers ACK once its vCPUs run, or NACK
 * destination to source:
 *   ACK     empty
 *   NACK    the reason, one line of text
 *
 * A reader refuses a foreign or newer header, an unknown record type, a
 * length above MIG_MAX_RECORD and a checksum mismatch, each with one line;
 * all integers little-endian. */
#ifndef RINGVM_MIGRATE_MIG_STREAM_H
#define RINGVM_MIGRATE_MIG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define MIG_MAGIC        "RINGVMMG"
#define MIG_VERSION      1
#define MIG_HEADER_LEN   52
#define MIG_PAGE         4096u
#define MIG_PAGES_MAX    256     /* pages per PAGES record: 1 MiB */
/* A state is at most 64 MiB (state.h); a PAGES record about 1 MiB. */
#define MIG_MAX_RECORD   (65u << 20)

enum mig_rec {
	MIG_REC_HELLO = 1,
	MIG_REC_PAGES = 2,
	MIG_REC_STATE = 3,
	MIG_REC_ACK = 16,
	MIG_REC_NACK = 17,
};

#define MIG_PAGE_ZERO 1ULL       /* bit 0 of a PAGES entry's address */

/* One end of a migration connection. Every call blocks, with the socket's
 * own timeouts (mig_conn_init sets them) as the bound. */
struct mig_conn {
	int fd;
	uint64_t bytes_out, bytes_in;
	char peer[32];           /* "source" or "destination", for messages */
};

void mig_conn_init(struct mig_conn *c, int fd, const char *peer,
		   int timeout_ms);
void mig_conn_close(struct mig_conn *c);

int mig_send_header(struct mig_conn *c, const char *ringvm_version,
		    struct rv_err *err);
/* Checks magic, version, checksum; *version_out (33 bytes) gets the
 * peer's ringvm version, each byte outside printable ASCII as '?'. */
int mig_recv_header(struct mig_conn *c, char *version_out, struct rv_err *err);

int mig_send_record(struct mig_conn *c, uint32_t type, const void *payload,
		    uint64_t len, struct rv_err *err);
/* Reads the next record into *buf (malloc'ed, *len bytes; free it). */
int mig_recv_record(struct mig_conn *c, uint32_t *type, uint8_t **buf,
		    uint64_t *len, struct rv_err *err);

/* Builds PAGES records: add pages, then flush. A record goes out whenever
 * MIG_PAGES_MAX pages are queued. */
struct mig_pages {
	uint8_t *buf;            /* 4 + MIG_PAGES_MAX * (8 + 4096) bytes */
	size_t len;
	uint32_t count;
	uint64_t zero_pages, data_pages;
};

int mig_pages_init(struct mig_pages *p, struct rv_err *err);
void mig_pages_free(struct mig_pages *p);
/* data: the page's 4096 bytes as they are now (a page of zeros is sent as
 * a marker only). */
int mig_pages_add(struct mig_pages *p, struct mig_conn *c, uint64_t gpa,
		  const uint8_t *data, struct rv_err *err);
int mig_pages_flush(struct mig_pages *p, struct mig_conn *c,
		    struct rv_err *err);

bool mig_page_is_zero(const uint8_t *page);

/* n bytes of the peer's text (a version, a NACK's reason) as a string for
 * one-line messages: anything but printable ASCII becomes '?'. */
void mig_printable(char *dst, size_t cap, const void *src, size_t n);

/* Walks a received PAGES payload, calling fn for each page (data NULL for
 * a zero page). Refuses a malformed payload (count against length, an
 * address that is not page-aligned) before calling fn for anything. */
int mig_pages_parse(const uint8_t *payload, uint64_t len,
		    int (*fn)(void *ctx, uint64_t gpa, const uint8_t *data,
			      struct rv_err *err),
		    void *ctx, struct rv_err *err);

#endif
