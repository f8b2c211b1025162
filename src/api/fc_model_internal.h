/* What the fc_model files share and nobody else needs: the one-object body
 * parser, the field tables every object is checked against, getters for
 * vetted fields, the value checks, and the per-object parsers the
 * config-file parser reuses. */
#ifndef RINGVM_API_FC_MODEL_INTERNAL_H
#define RINGVM_API_FC_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/fc_model.h"

struct json_object;

#define FC_DEPTH_MAX  16
#define FC_PATH_MAX   4095         /* PATH_MAX less the NUL */
#define FC_STR_MAX    4096         /* boot_args and every other string */
#define FC_IFNAME_MAX 15           /* IFNAMSIZ less the NUL */

enum fc_kind {
	K_STR,          /* lo..hi bytes, no NUL */
	K_BOOL,
	K_UINT,         /* a JSON integer in lo..hi */
	K_OBJ,
	K_ARR,
	K_UNSUP,        /* a Firecracker field ringvm refuses unless null */
	K_UNSUP_LIST,   /* the same, but [] (asks for nothing) is accepted */
};

struct fc_field {
	const char *name;
	enum fc_kind kind;
	bool required;
	int64_t lo, hi;
	const char *why;   /* K_UNSUP: said after "not supported by ringvm" */
};

struct fc_schema {
	const char *name;  /* as in the swagger, for messages */
	const struct fc_field *f;
	size_t n;
};

#define REQ true
#define OPT false
#define F_STR(n, r)       { n, K_STR, r, 0, FC_STR_MAX, NULL }
#define F_PATH(n, r)      { n, K_STR, r, 1, FC_PATH_MAX, NULL }
#define F_BOOL(n, r)      { n, K_BOOL, r, 0, 0, NULL }
#define F_UINT(n, lo, hi) { n, K_UINT, REQ, lo, hi, NULL }
#define F_UINT_OPT(n, lo, hi) { n, K_UINT, OPT, lo, hi, NULL }
#define F_OBJ(n, r)       { n, K_OBJ, r, 0, 0, NULL }
#define F_ARR(n)          { n, K_ARR, OPT, 0, 0, NULL }
#define F_UNSUP(n, why)   { n, K_UNSUP, OPT, 0, 0, why }
#define F_UNSUP_LIST(n)   { n, K_UNSUP_LIST, OPT, 0, 0, NULL }
#define FC_SCHEMA(n, t)   { n, t, sizeof(t) / sizeof(t[0]) }

/* Set msg (FC_MSG_MAX bytes) and return -1; fc_prefix puts "where: "
 * before what a nested parser already wrote. */
int fc_fail(char *msg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int fc_prefix(char *msg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing beyond U+10FFFF) at p, of at most avail bytes; 0 if
 * there is none. */
size_t fc_utf8_len(const char *p, size_t avail);

/* The body as exactly one JSON object (*out: a new reference). */
int fc_body_object(const char *body, size_t len, struct json_object **out,
		   char *msg);
/* Every key known and of the right type, every required field there. */
int fc_check_object(struct json_object *o, const struct fc_schema *s,
		    char *msg);

/* Getters for fields fc_check_object has vetted; absent and null alike
 * give NULL / false. fc_dup_str copies (NULL when absent). */
struct json_object *fc_get(struct json_object *o, const char *key);
const char *fc_get_str(struct json_object *o, const char *key);
bool fc_get_bool(struct json_object *o, const char *key);
int fc_dup_str(struct json_object *o, const char *key, char **out,
	       char *msg);

/* Value checks: what names the value, the value; path_id NULL when there
 * is no URL (the config file). */
int fc_check_id(const char *what, const char *id, const char *path_id,
		char *msg);
int fc_check_path_id(const char *what, const char *path_id, char *msg);
int fc_check_ifname(const char *name, char *msg);
int fc_parse_mac(const char *s, uint8_t mac[6], char *msg);
int fc_check_partuuid(const char *s, char *msg);

/* One object already parsed; *out is written only on success. */
int fc_boot_source_obj(struct json_object *o, struct fc_boot_source *out,
		       char *msg);
int fc_machine_obj(struct json_object *o, struct fc_machine_config *out,
		   char *msg);
int fc_drive_obj(struct json_object *o, const char *path_id,
		 struct fc_drive *out, char *msg);
int fc_iface_obj(struct json_object *o, const char *path_id,
		 struct fc_net_iface *out, char *msg);
int fc_entropy_obj(struct json_object *o, char *msg);
int fc_metrics_obj(struct json_object *o, struct fc_metrics *out,
		   char *msg);

#endif
