/* The custom CPU template JSON layout, strictly: every error is one line
 * naming the member it is about, e.g. "cpuid_modifiers[2].modifiers[0].
 * bitmap: 31 bits, expected 32". */
#include "arch/x86/cpu_template_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* The layout nests four deep; json-c counts arrays and objects. */
#define JSON_DEPTH 8
/* How much of a bad value an error message quotes. */
#define QUOTE_MAX 72

static const char *const top_fields[] = {
	"cpuid_modifiers", "msr_modifiers", "kvm_capabilities",
	"reg_modifiers", "vcpu_features", NULL,
};
static const char *const leaf_fields[] = {
	"leaf", "subleaf", "flags", "modifiers", NULL,
};
static const char *const reg_fields[] = { "register", "bitmap", NULL };
static const char *const msr_fields[] = { "addr", "bitmap", NULL };

/* Sections of other architectures or features ringvm lacks. */
static const struct {
	const char *name, *why;
} refused[] = {
	{ "kvm_capabilities", "KVM capability changes are not supported by ringvm" },
	{ "reg_modifiers", "ARM register modifiers are for aarch64" },
	{ "vcpu_features", "vCPU features are for aarch64" },
};

static int fail_at(struct rv_err *err, const char *where, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static int fail_at(struct rv_err *err, const char *where, const char *fmt,
		   ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (where && *where)
		return rv_fail(err, "%s: %s", where, msg);
	return rv_fail(err, "%s", msg);
}

/* A user's string, shortened, with anything that could break the line
 * (or the terminal) replaced by '?'. */
static void quote(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s && n + 4 < cap; s++)
		out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s && cap >= 4) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* "0x1f", "0b101" or "31"; 0, or -1 with why set. */
static int parse_number(const char *s, unsigned int bits, uint64_t *out,
			const char **why)
{
	uint64_t max = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
	unsigned int base = 10;
	uint64_t v = 0;
	const char *p = s;

	if (p[0] == '0' && p[1] == 'x') {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] == 'b') {
		base = 2;
		p += 2;
	}
	*why = "is not a number (hex 0x..., binary 0b... or decimal)";
	if (!*p)
		return -1;
	for (; *p; p++) {
		unsigned int d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned int)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned int)(*p - 'a') + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = (unsigned int)(*p - 'A') + 10;
		else
			return -1;
		if (d >= base)
			return -1;
		if (v > (max - d) / base) {
			*why = bits == 32 ? "is out of range (32 bits)" :
					    "is out of range (64 bits)";
			return -1;
		}
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* "0b" then exactly `bits` of '0', '1', 'x' (most significant first),
 * with any '_' between them. */
static int parse_bitmap(const char *s, unsigned int bits, uint64_t *mask,
			uint64_t *value, const char *where, struct rv_err *err)
{
	char q[QUOTE_MAX];
	unsigned int n = 0;
	uint64_t m = 0, v = 0;

	quote(s, q, sizeof(q));
	if (strncmp(s, "0b", 2))
		return fail_at(err, where, "'%s' does not start with 0b", q);
	for (const char *p = s + 2; *p; p++) {
		if (*p == '_')
			continue;
		if (*p != '0' && *p != '1' && *p != 'x') {
			char c[8];

			if (*p > 0x20 && *p < 0x7f)
				snprintf(c, sizeof(c), "'%c'", *p);
			else
				snprintf(c, sizeof(c), "0x%02x",
					 (unsigned int)(unsigned char)*p);
			return fail_at(err, where, "'%s': character %s is not 0, 1, x or _",
				       q, c);
		}
		if (++n > bits)
			continue;
		m <<= 1;
		v <<= 1;
		m |= *p != 'x';
		v |= *p == '1';
	}
	if (n != bits)
		return fail_at(err, where, "'%s' has %u bits, expected %u", q, n,
			       bits);
	*mask = m;
	*value = v;
	return 0;
}

static int check_fields(struct json_object *o, const char *const *allowed,
			const char *where, struct rv_err *err)
{
	json_object_object_foreach(o, key, val) {
		const char *const *a = allowed;
		char q[QUOTE_MAX];

		(void)val;
		while (*a && strcmp(*a, key))
			a++;
		if (*a)
			continue;
		quote(key, q, sizeof(q));
		return fail_at(err, where, "unknown field '%s'", q);
	}
	return 0;
}

/* A required member of the given type. */
static int member(struct json_object *o, const char *key, json_type type,
		  const char *where, struct json_object **out,
		  struct rv_err *err)
{
	static const char *const type_names[] = {
		[json_type_boolean] = "a boolean", [json_type_int] = "an integer",
		[json_type_string] = "a string", [json_type_array] = "an array",
		[json_type_object] = "an object",
	};
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return fail_at(err, where, "missing field '%s'", key);
	if (!json_object_is_type(v, type))
		return fail_at(err, where, "%s: expected %s", key,
			       type_names[type]);
	/* A C string would silently end at an escaped \u0000. */
	if (type == json_type_string &&
	    strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v))
		return fail_at(err, where, "%s: contains a NUL character", key);
	*out = v;
	return 0;
}

static int number_member(struct json_object *o, const char *key,
			 unsigned int bits, const char *where, uint64_t *out,
			 struct rv_err *err)
{
	struct json_object *v;
	const char *why;
	char q[QUOTE_MAX];

	if (member(o, key, json_type_string, where, &v, err) < 0)
		return -1;
	if (parse_number(json_object_get_string(v), bits, out, &why) == 0)
		return 0;
	quote(json_object_get_string(v), q, sizeof(q));
	return fail_at(err, where, "%s: '%s' %s", key, q, why);
}

static int bitmap_member(struct json_object *o, unsigned int bits,
			 const char *where, uint64_t *mask, uint64_t *value,
			 struct rv_err *err)
{
	struct json_object *v;
	char w[96];

	if (member(o, "bitmap", json_type_string, where, &v, err) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s.bitmap", where);
	return parse_bitmap(json_object_get_string(v), bits, mask, value, w,
			    err);
}

/* modifiers[k] is reg[k]: every earlier one was accepted. */
static int parse_register(struct json_object *o, const char *where,
			  struct cpu_leaf_modifier *l, struct rv_err *err)
{
	struct cpu_reg_modifier *m = &l->reg[l->nregs];
	struct json_object *v;
	uint64_t mask, value;
	const char *name;
	char q[QUOTE_MAX];
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail_at(err, where, "expected an object");
	if (check_fields(o, reg_fields, where, err) < 0 ||
	    member(o, "register", json_type_string, where, &v, err) < 0)
		return -1;
	name = json_object_get_string(v);
	for (r = 0; r < 4 && strcmp(name, ct_reg_name((enum x86_reg)r)); r++)
		;
	if (r == 4) {
		quote(name, q, sizeof(q));
		return fail_at(err, where, "register: '%s' is not eax, ebx, ecx or edx",
			       q);
	}
	for (unsigned int k = 0; k < l->nregs; k++)
		if (l->reg[k].reg == (enum x86_reg)r)
			return fail_at(err, where, "register %s is already modified (modifiers[%u])",
				       name, k);
	if (bitmap_member(o, 32, where, &mask, &value, err) < 0)
		return -1;
	/* Four registers at most, each once: checked above. */
	m->reg = (enum x86_reg)r;
	m->mask = (uint32_t)mask;
	m->value = (uint32_t)value;
	l->nregs++;
	return 0;
}

static int parse_leaf(struct json_object *o, const char *where,
		      const struct cpu_template *t, struct cpu_leaf_modifier *l,
		      struct rv_err *err)
{
	struct json_object *v, *mods;
	uint64_t leaf, subleaf;
	int64_t flags;
	size_t n;

	memset(l, 0, sizeof(*l));
	if (!json_object_is_type(o, json_type_object))
		return fail_at(err, where, "expected an object");
	if (check_fields(o, leaf_fields, where, err) < 0 ||
	    number_member(o, "leaf", 32, where, &leaf, err) < 0 ||
	    number_member(o, "subleaf", 32, where, &subleaf, err) < 0 ||
	    member(o, "flags", json_type_int, where, &v, err) < 0)
		return -1;
	flags = json_object_get_int64(v);
	/* KVM_CPUID_FLAG_SIGNIFCANT_INDEX and the two obsolete stateful
	 * flags are the only ones KVM defines. */
	if (flags < 0 || flags > 7)
		return fail_at(err, where, "flags: %lld is not a KVM CPUID flags value (0 to 7)",
			       (long long)flags);
	for (unsigned int k = 0; k < t->nleaves; k++)
		if (t->leaf[k].leaf == leaf && t->leaf[k].subleaf == subleaf)
			return fail_at(err, where, "leaf %#x subleaf %#x is already modified (cpuid_modifiers[%u])",
				       (unsigned int)leaf, (unsigned int)subleaf,
				       k);
	l->leaf = (uint32_t)leaf;
	l->subleaf = (uint32_t)subleaf;
	l->flags = (uint32_t)flags;
	if (member(o, "modifiers", json_type_array, where, &mods, err) < 0)
		return -1;
	n = json_object_array_length(mods);
	for (size_t j = 0; j < n; j++) {
		char w[64];

		snprintf(w, sizeof(w), "%s.modifiers[%zu]", where, j);
		if (l->nregs == 4)
			return fail_at(err, w, "more than four registers");
		if (parse_register(json_object_array_get_idx(mods, j), w, l,
				   err) < 0)
			return -1;
	}
	return 0;
}

static int parse_msr(struct json_object *o, const char *where,
		     const struct cpu_template *t, struct cpu_msr_modifier *m,
		     struct rv_err *err)
{
	uint64_t addr;

	if (!json_object_is_type(o, json_type_object))
		return fail_at(err, where, "expected an object");
	if (check_fields(o, msr_fields, where, err) < 0 ||
	    number_member(o, "addr", 32, where, &addr, err) < 0)
		return -1;
	for (unsigned int k = 0; k < t->nmsrs; k++)
		if (t->msr[k].addr == addr)
			return fail_at(err, where, "MSR %#x is already modified (msr_modifiers[%u])",
				       (unsigned int)addr, k);
	m->addr = (uint32_t)addr;
	return bitmap_member(o, 64, where, &m->mask, &m->value, err);
}

/* An optional array member; NULL when absent. */
static int array_member(struct json_object *o, const char *key,
			struct json_object **out, struct rv_err *err)
{
	*out = NULL;
	if (!json_object_object_get_ex(o, key, NULL))
		return 0;
	return member(o, key, json_type_array, NULL, out, err);
}

static int parse_top(struct json_object *o, struct cpu_template *t,
		     struct rv_err *err)
{
	struct json_object *a;
	size_t n;

	if (!json_object_is_type(o, json_type_object))
		return rv_fail(err, "not a JSON object (a CPU template is one)");
	if (check_fields(o, top_fields, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (array_member(o, refused[i].name, &a, err) < 0)
			return -1;
		if (a && json_object_array_length(a))
			return rv_fail(err, "%s: %s (must be empty)",
				       refused[i].name, refused[i].why);
	}
	if (array_member(o, "cpuid_modifiers", &a, err) < 0)
		return -1;
	n = a ? json_object_array_length(a) : 0;
	if (n > CPU_TEMPLATE_MAX_LEAVES)
		return rv_fail(err, "cpuid_modifiers: %zu leaves, at most %d",
			       n, CPU_TEMPLATE_MAX_LEAVES);
	for (size_t i = 0; i < n; i++) {
		char w[32];

		snprintf(w, sizeof(w), "cpuid_modifiers[%zu]", i);
		if (parse_leaf(json_object_array_get_idx(a, i), w, t,
			       &t->leaf[i], err) < 0)
			return -1;
		t->nleaves++;
	}
	if (array_member(o, "msr_modifiers", &a, err) < 0)
		return -1;
	n = a ? json_object_array_length(a) : 0;
	if (n > CPU_TEMPLATE_MAX_MSRS)
		return rv_fail(err, "msr_modifiers: %zu MSRs, at most %d", n,
			       CPU_TEMPLATE_MAX_MSRS);
	for (size_t i = 0; i < n; i++) {
		char w[32];

		snprintf(w, sizeof(w), "msr_modifiers[%zu]", i);
		if (parse_msr(json_object_array_get_idx(a, i), w, t,
			      &t->msr[i], err) < 0)
			return -1;
		t->nmsrs++;
	}
	return 0;
}

static bool json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int x86_cpu_template_parse(const char *json, size_t len,
			   struct cpu_template *t, struct rv_err *err)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error e;
	size_t end, i = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	if (len > CPU_TEMPLATE_MAX_JSON)
		return rv_fail(err, "larger than %u bytes: not a CPU template",
			       CPU_TEMPLATE_MAX_JSON);
	/* json-c waits for more after a bare top-level literal: decide
	 * "not an object" here. */
	while (i < len && json_ws(json[i]))
		i++;
	if (i == len)
		return rv_fail(err, "empty (no JSON object)");
	if (json[i] != '{')
		return rv_fail(err, "not a JSON object (a CPU template is one)");
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return rv_fail(err, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_ALLOW_TRAILING_CHARS |
			       JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, json, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success) {
		json_object_put(o);
		if (e == json_tokener_continue)
			return rv_fail(err, "the JSON ends early (at byte %zu)",
				       len);
		if (e == json_tokener_error_depth)
			return rv_fail(err, "JSON nested deeper than %d levels",
				       JSON_DEPTH);
		return rv_fail(err, "invalid JSON at byte %zu: %s", end,
			       json_tokener_error_desc(e));
	}
	for (i = end; i < len; i++) {
		if (!json_ws(json[i])) {
			json_object_put(o);
			return rv_fail(err, "unexpected bytes after the JSON object, at byte %zu",
				       i);
		}
	}
	rc = parse_top(o, t, err);
	json_object_put(o);
	if (rc < 0) {
		memset(t, 0, sizeof(*t));
		return -1;
	}
	ct_sort(t);
	return 0;
}

/* ---- printing ---- */

static struct json_object *bitmap_json(uint64_t mask, uint64_t value,
				       unsigned int bits)
{
	char s[2 + 64 + 1] = "0b";

	for (unsigned int i = 0; i < bits; i++) {
		uint64_t b = 1ull << (bits - 1 - i);

		s[2 + i] = !(mask & b) ? 'x' : (value & b) ? '1' : '0';
	}
	s[2 + bits] = '\0';
	return json_object_new_string(s);
}

static struct json_object *hex_json(uint32_t v)
{
	char s[16];

	snprintf(s, sizeof(s), "0x%x", v);
	return json_object_new_string(s);
}

/* Adds v under key (or to the array when key is NULL); false, with v
 * released, if anything failed. */
static bool add(struct json_object *to, const char *key,
		struct json_object *v)
{
	int r;

	if (!to || !v) {
		json_object_put(v);
		return false;
	}
	r = key ? json_object_object_add(to, key, v) :
		  json_object_array_add(to, v);
	if (r) {
		json_object_put(v);
		return false;
	}
	return true;
}

static struct json_object *leaf_json(const struct cpu_leaf_modifier *l)
{
	struct json_object *o = json_object_new_object();
	struct json_object *mods = json_object_new_array();
	bool ok = add(o, "leaf", hex_json(l->leaf)) &&
		  add(o, "subleaf", hex_json(l->subleaf)) &&
		  add(o, "flags", json_object_new_int64(l->flags));

	for (unsigned int j = 0; ok && j < l->nregs; j++) {
		struct json_object *r = json_object_new_object();

		ok = add(r, "register",
			 json_object_new_string(ct_reg_name(l->reg[j].reg))) &&
		     add(r, "bitmap", bitmap_json(l->reg[j].mask,
						  l->reg[j].value, 32));
		ok = add(mods, NULL, r) && ok;
	}
	ok = add(o, "modifiers", mods) && ok;
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *msr_json(const struct cpu_msr_modifier *m)
{
	struct json_object *o = json_object_new_object();

	if (add(o, "addr", hex_json(m->addr)) &&
	    add(o, "bitmap", bitmap_json(m->mask, m->value, 64)))
		return o;
	json_object_put(o);
	return NULL;
}

char *x86_cpu_template_to_json(const struct cpu_template *t)
{
	struct json_object *o = json_object_new_object();
	struct json_object *leaves = json_object_new_array();
	struct json_object *msrs = json_object_new_array();
	bool ok = true;
	const char *s;
	char *copy = NULL;

	for (unsigned int i = 0; ok && i < t->nleaves; i++)
		ok = add(leaves, NULL, leaf_json(&t->leaf[i]));
	for (unsigned int i = 0; ok && i < t->nmsrs; i++)
		ok = add(msrs, NULL, msr_json(&t->msr[i]));
	ok = add(o, "cpuid_modifiers", leaves) && ok;
	ok = add(o, "msr_modifiers", msrs) && ok;
	if (ok) {
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_SPACED |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
		if (s && asprintf(&copy, "%s\n", s) < 0)
			copy = NULL;
	}
	json_object_put(o);
	return copy;
}
