/* The checks every request body goes through: exactly one JSON object,
 * every field known, typed and in range, and the value rules for ids,
 * interface names, MAC addresses and partition UUIDs. */
#include "api/fc_model_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* json-c spends two levels of its stack on an object member, so its own
 * limit is loose; scan_body counts containers exactly. */
#define JSONC_DEPTH (2 * FC_DEPTH_MAX + 2)

int fc_fail(char *msg, const char *fmt, ...)
{
	va_list ap;

	if (msg) {
		va_start(ap, fmt);
		vsnprintf(msg, FC_MSG_MAX, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int fc_prefix(char *msg, const char *fmt, ...)
{
	char tmp[FC_MSG_MAX];
	va_list ap;
	int n;

	if (!msg)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(tmp))
		snprintf(tmp + n, sizeof(tmp) - (size_t)n, "%s", msg);
	memcpy(msg, tmp, sizeof(tmp));
	return -1;
}

static bool json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t fc_utf8_len(const char *p, size_t avail)
{
	const unsigned char *s = (const unsigned char *)p;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (avail == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > avail)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return n;
}

/* What json-c accepts beyond JSON, or cannot represent: single-quoted
 * keys, raw control characters in strings, UTF-8 its check lets through
 * (overlong forms, surrogates, beyond U+10FFFF), and "\u0000" in a key
 * (json-c keeps keys as C strings, so "a\u0000b" would silently become
 * "a"). Also counts nesting exactly. s[0..n) is text json-c accepted. */
static int scan_body(const char *s, size_t n, char *msg)
{
	unsigned int depth = 0;

	for (size_t i = 0, k; i < n; i += k)
		if ((k = fc_utf8_len(s + i, n - i)) == 0)
			return fc_fail(msg, "invalid JSON at byte %zu: invalid "
				       "UTF-8", i);
	for (size_t i = 0; i < n; i++) {
		bool nul = false;
		size_t j;

		switch (s[i]) {
		case '{':
		case '[':
			if (++depth > FC_DEPTH_MAX)
				return fc_fail(msg, "JSON nesting deeper than "
					       "%d", FC_DEPTH_MAX);
			break;
		case '}':
		case ']':
			depth--;
			break;
		case '\'':
			return fc_fail(msg, "invalid JSON at byte %zu: strings "
				       "take double quotes", i);
		case '"':
			for (i++; i < n && s[i] != '"'; i++) {
				if ((unsigned char)s[i] < 0x20)
					return fc_fail(msg, "invalid JSON at "
						       "byte %zu: unescaped "
						       "control character", i);
				if (s[i] != '\\')
					continue;
				i++;
				if (i + 4 < n && s[i] == 'u' &&
				    !memcmp(s + i + 1, "0000", 4))
					nul = true;
			}
			for (j = i + 1; j < n && json_ws(s[j]); j++)
				;
			if (nul && j < n && s[j] == ':')
				return fc_fail(msg, "a field name contains a "
					       "NUL character (\\u0000)");
			break;
		}
	}
	return 0;
}

/* Duplicate keys: json-c keeps the last value (at the first one's place).
 * That is accepted, as most JSON parsers do, rather than refused. */
int fc_body_object(const char *body, size_t len, struct json_object **out,
		   char *msg)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error e;
	size_t i = 0, end;

	*out = NULL;
	if (!body)
		len = 0;
	while (i < len && json_ws(body[i]))
		i++;
	if (i == len)
		return fc_fail(msg, "empty body, expected a JSON object");
	if (body[i] != '{')
		return fc_fail(msg, "the body is not a JSON object");
	if (len > INT_MAX)
		return fc_fail(msg, "the body is too large");
	tok = json_tokener_new_ex(JSONC_DEPTH);
	if (!tok)
		return fc_fail(msg, "out of memory");
	/* Trailing bytes are allowed here only to be refused below with a
	 * clearer message than json-c's. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_ALLOW_TRAILING_CHARS |
			       JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, body, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success || !o) {
		json_object_put(o);
		if (e == json_tokener_error_depth)
			return fc_fail(msg, "JSON nesting deeper than %d",
				       FC_DEPTH_MAX);
		if (e == json_tokener_continue)
			return fc_fail(msg, "the body ends inside the JSON "
				       "object");
		return fc_fail(msg, "invalid JSON at byte %zu: %s", end,
			       json_tokener_error_desc(e));
	}
	for (i = end; i < len; i++) {
		if (!json_ws(body[i])) {
			json_object_put(o);
			return fc_fail(msg, "unexpected bytes after the JSON "
				       "object, at byte %zu", i);
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return fc_fail(msg, "the body is not a JSON object");
	}
	if (scan_body(body, end, msg) < 0) {
		json_object_put(o);
		return -1;
	}
	*out = o;
	return 0;
}

static const char *const kind_want[] = {
	[K_STR] = "a string", [K_BOOL] = "a boolean",
	[K_UINT] = "an integer", [K_OBJ] = "an object", [K_ARR] = "an array",
};
static const enum json_type kind_type[] = {
	[K_STR] = json_type_string, [K_BOOL] = json_type_boolean,
	[K_UINT] = json_type_int, [K_OBJ] = json_type_object,
	[K_ARR] = json_type_array,
};

static int check_value(const struct fc_schema *s, const struct fc_field *f,
		       struct json_object *v, char *msg)
{
	size_t n;
	int64_t i;

	if (f->kind == K_UNSUP_LIST &&
	    json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) == 0)
		return 0;
	if (f->kind == K_UNSUP || f->kind == K_UNSUP_LIST)
		return fc_fail(msg, "field '%s' of %s is not supported by "
			       "ringvm%s", f->name, s->name,
			       f->why ? f->why : "");
	/* A double (1.0, 1e3) is not an integer, nor "1" or true. */
	if (!json_object_is_type(v, kind_type[f->kind]))
		return fc_fail(msg, "field '%s' of %s must be %s", f->name,
			       s->name, kind_want[f->kind]);
	switch (f->kind) {
	case K_STR:
		n = (size_t)json_object_get_string_len(v);
		if (strlen(json_object_get_string(v)) != n)
			return fc_fail(msg, "field '%s' of %s contains a NUL "
				       "character", f->name, s->name);
		if (n < (size_t)f->lo)
			return fc_fail(msg, "field '%s' of %s must not be "
				       "empty", f->name, s->name);
		if (n > (size_t)f->hi)
			return fc_fail(msg, "field '%s' of %s is longer than "
				       "%lld bytes", f->name, s->name,
				       (long long)f->hi);
		break;
	case K_UINT:
		/* json-c clamps what int64 cannot hold (and reads a uint64
		 * beyond INT64_MAX as INT64_MAX): still out of range. */
		i = json_object_get_int64(v);
		if (i < f->lo || i > f->hi)
			return fc_fail(msg, "field '%s' of %s must be between "
				       "%lld and %lld", f->name, s->name,
				       (long long)f->lo, (long long)f->hi);
		break;
	default:
		break;
	}
	return 0;
}

/* JSON null is absence, so null for a required field is a missing one. */
int fc_check_object(struct json_object *o, const struct fc_schema *s,
		    char *msg)
{
	struct json_object_iterator it = json_object_iter_begin(o);
	struct json_object_iterator end = json_object_iter_end(o);

	for (; !json_object_iter_equal(&it, &end);
	     json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		const struct fc_field *f = NULL;

		for (size_t k = 0; k < s->n && !f; k++)
			if (!strcmp(s->f[k].name, key))
				f = &s->f[k];
		if (!f)
			return fc_fail(msg, "unknown field '%.64s' in %s", key,
				       s->name);
		if (v && check_value(s, f, v, msg) < 0)
			return -1;
	}
	for (size_t k = 0; k < s->n; k++)
		if (s->f[k].required && !fc_get(o, s->f[k].name))
			return fc_fail(msg, "missing required field '%s' in "
				       "%s", s->f[k].name, s->name);
	return 0;
}

struct json_object *fc_get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

const char *fc_get_str(struct json_object *o, const char *key)
{
	struct json_object *v = fc_get(o, key);

	return v ? json_object_get_string(v) : NULL;
}

bool fc_get_bool(struct json_object *o, const char *key)
{
	struct json_object *v = fc_get(o, key);

	return v && json_object_get_boolean(v);
}

int fc_dup_str(struct json_object *o, const char *key, char **out,
	       char *msg)
{
	const char *s = fc_get_str(o, key);

	*out = NULL;
	if (s && !(*out = strdup(s)))
		return fc_fail(msg, "out of memory");
	return 0;
}

bool fc_valid_id(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++) {
		char c = id[n];

		if (n == FC_ID_MAX || !((c >= 'a' && c <= 'z') ||
					(c >= 'A' && c <= 'Z') ||
					(c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n > 0;
}

int fc_check_id(const char *what, const char *id, const char *path_id,
		char *msg)
{
	if (!fc_valid_id(id))
		return fc_fail(msg, "%s '%.64s' is not valid (1 to %d of A-Z, "
			       "a-z, 0-9 and _)", what, id ? id : "",
			       FC_ID_MAX);
	if (path_id && strcmp(id, path_id))
		return fc_fail(msg, "%s '%s' in the body does not match '%s' "
			       "in the path", what, id, path_id);
	return 0;
}

int fc_check_path_id(const char *what, const char *path_id, char *msg)
{
	if (!fc_valid_id(path_id))
		return fc_fail(msg, "%s '%.64s' in the path is not valid (1 to "
			       "%d of A-Z, a-z, 0-9 and _)", what,
			       path_id ? path_id : "", FC_ID_MAX);
	return 0;
}

/* As Linux's dev_valid_name(). */
int fc_check_ifname(const char *name, char *msg)
{
	size_t n = strlen(name);

	if (n == 0 || n > FC_IFNAME_MAX || !strcmp(name, ".") ||
	    !strcmp(name, "..") || strpbrk(name, "/: \t\n\v\f\r"))
		return fc_fail(msg, "host_dev_name '%.64s' is not a valid "
			       "interface name (1 to %d bytes, no '/', ':' or "
			       "whitespace, not '.' or '..')", name,
			       FC_IFNAME_MAX);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fc_parse_mac(const char *s, uint8_t mac[6], char *msg)
{
	unsigned int any = 0;

	if (strlen(s) != 17)
		goto bad;
	for (int k = 0; k < 6; k++) {
		int hi = hexval(s[3 * k]), lo = hexval(s[3 * k + 1]);

		if (hi < 0 || lo < 0 || (k < 5 && s[3 * k + 2] != ':'))
			goto bad;
		mac[k] = (uint8_t)(hi << 4 | lo);
		any |= mac[k];
	}
	if (mac[0] & 1)
		return fc_fail(msg, "guest_mac '%s' is a multicast address", s);
	if (!any)
		return fc_fail(msg, "guest_mac '%s' is all zero", s);
	return 0;
bad:
	return fc_fail(msg, "guest_mac '%.64s' is not a MAC address "
		       "(xx:xx:xx:xx:xx:xx)", s);
}

/* The kernel gets "root=PARTUUID=<partuuid>": it must stay one word of
 * the command line. */
int fc_check_partuuid(const char *s, char *msg)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		goto bad;
	for (size_t k = 0; k < n; k++)
		if ((unsigned char)s[k] <= ' ' || s[k] == '"' || s[k] == 0x7f)
			goto bad;
	return 0;
bad:
	return fc_fail(msg, "partuuid '%.64s' is not valid (1 to 64 bytes, "
		       "no whitespace, quotes or control characters)", s);
}
