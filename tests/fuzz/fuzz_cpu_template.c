/* libFuzzer target: hostile CPU template files (ringvm cpu-template's
 * inputs, and later --cpu-template's). The input is the file, passed with
 * its exact length in a heap block of exactly that size.
 *
 * Beyond "no crash, no sanitizer report": a refusal leaves a one-line
 * message and an empty template; an accepted file gives a sorted model
 * within its limits, whose JSON parses back to the same model and prints
 * the same text. The template is then checked against and applied to a
 * small synthetic host (the result stays a valid CPUID table, nothing
 * above its maximum leaves); a features file is intersected with itself.
 *
 * Built with -DFUZZ_SEEDS it is instead a program writing the seed corpus
 * to the directory given as argv[1] (tests/fuzz/run.sh). */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
#endif

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cpuid.h's struct x86_cpuid trips the warning above in clang, and only
 * this file can silence it: the two files that need it are compiled here
 * rather than listed in tests/fuzz/targets. */
#include "arch/x86/cpuid.c"
#include "arch/x86/cpuid_features.c"

#include "arch/x86/cpu_template.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

struct work {
	struct cpu_template t, t2;
	struct x86_cpuid host, guest;
	struct x86_msr_values msrs, vals;
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void add(struct x86_cpuid *c, uint32_t fn, uint32_t idx, uint32_t flags,
		uint32_t a, uint32_t b, uint32_t cx, uint32_t d)
{
	struct kvm_cpuid_entry2 *e = &c->entry[c->head.nent++];

	*e = (struct kvm_cpuid_entry2){ .function = fn, .index = idx,
		.flags = flags, .eax = a, .ebx = b, .ecx = cx, .edx = d };
}

/* An Intel host with the leaves the template rules name. */
static void synthetic_host(struct work *w, bool other)
{
	struct x86_cpuid *c = &w->host;

	memset(c, 0, sizeof(*c));
	add(c, 0, 0, 0, other ? 0x16 : 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69);
	add(c, 1, 0, 0, 0x906ea, 0x0a100800, other ? 0x90000001 : 0x90400001,
	    0x178bfbff);
	add(c, 4, 0, SIG, 0x1c004121, 0x01c0003f, 0x3f, 0);
	add(c, 7, 0, SIG, 1, other ? 0x28 : 0x1002a, 0x10, 0x20000000);
	add(c, 0xb, 0, SIG, 1, 2, 0x100, 10);
	add(c, 0xb, 1, SIG, 5, 16, 0x201, 10);
	add(c, 0xd, 0, SIG, other ? 7 : 0xe7, 0x240, 0xa80, 0);
	add(c, 0xd, 1, SIG, 0xf, 0, 0, 0);
	if (!other) {
		add(c, 7, 1, SIG, 0x10, 0, 0, 0);
		add(c, 0x1f, 0, SIG, 1, 2, 0x100, 10);
		add(c, 0x1f, 1, SIG, 5, 16, 0x201, 10);
	}
	add(c, 0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
	add(c, 0x40000001, 0, 0, other ? 0x7afb : 0x01007afb, 0, 0, 0);
	add(c, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	add(c, 0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800);
	add(c, 0x80000007, 0, 0, 0, 0, 0, 0x100);
	add(c, 0x80000008, 0, 0, other ? 0x3030 : 0x392e, 0x200, 0, 0);
	memset(&w->msrs, 0, sizeof(w->msrs));
	w->msrs.entry[0] = (struct kvm_msr_entry){ .index = 0x10a,
		.data = other ? 0x6b : 0xeb };
	w->msrs.entry[1] = (struct kvm_msr_entry){ .index = 0x8b,
		.data = 0xf000000000ull };
	w->msrs.head.nmsrs = 2;
}

static bool same(const struct cpu_template *a, const struct cpu_template *b)
{
	if (a->nleaves != b->nleaves || a->nmsrs != b->nmsrs)
		return false;
	for (unsigned int i = 0; i < a->nleaves; i++) {
		const struct cpu_leaf_modifier *p = &a->leaf[i], *q = &b->leaf[i];

		if (p->leaf != q->leaf || p->subleaf != q->subleaf ||
		    p->flags != q->flags || p->nregs != q->nregs)
			return false;
		for (unsigned int r = 0; r < p->nregs; r++)
			if (p->reg[r].reg != q->reg[r].reg ||
			    p->reg[r].mask != q->reg[r].mask ||
			    p->reg[r].value != q->reg[r].value)
				return false;
	}
	for (unsigned int i = 0; i < a->nmsrs; i++)
		if (a->msr[i].addr != b->msr[i].addr ||
		    a->msr[i].mask != b->msr[i].mask ||
		    a->msr[i].value != b->msr[i].value)
			return false;
	return true;
}

/* Sorted, no duplicates, forced values inside their masks. */
static void check_model(const struct cpu_template *t)
{
	check(t->nleaves <= CPU_TEMPLATE_MAX_LEAVES &&
	      t->nmsrs <= CPU_TEMPLATE_MAX_MSRS);
	for (unsigned int i = 0; i < t->nleaves; i++) {
		const struct cpu_leaf_modifier *l = &t->leaf[i];

		check(l->nregs <= 4 && l->flags <= 7);
		if (i)
			check(l[-1].leaf < l->leaf || (l[-1].leaf == l->leaf &&
						       l[-1].subleaf < l->subleaf));
		for (unsigned int r = 0; r < l->nregs; r++) {
			check(!(l->reg[r].value & ~l->reg[r].mask));
			check((unsigned int)l->reg[r].reg < 4);
			if (r)
				check(l->reg[r - 1].reg < l->reg[r].reg);
		}
	}
	for (unsigned int i = 0; i < t->nmsrs; i++) {
		check(!(t->msr[i].value & ~t->msr[i].mask));
		if (i)
			check(t->msr[i - 1].addr < t->msr[i].addr);
	}
}

static void check_error(const struct rv_err *err)
{
	size_t n = strnlen(err->msg, sizeof(err->msg));

	check(n > 0 && n < sizeof(err->msg) && !memchr(err->msg, '\n', n));
}

static void round_trip(struct work *w)
{
	struct rv_err err = { .msg = "" };
	char *json = x86_cpu_template_to_json(&w->t), *again;

	check(json != NULL);
	check(x86_cpu_template_parse(json, strlen(json), &w->t2, &err) == 0);
	check(same(&w->t, &w->t2));
	again = x86_cpu_template_to_json(&w->t2);
	check(again && !strcmp(json, again));
	free(json);
	free(again);
}

static void apply(struct work *w, bool other)
{
	struct x86_cpuid_opts o = { .cpu_index = 1, .ncpus = 2 };
	struct rv_err err = { .msg = "" };
	const struct kvm_cpuid_entry2 *e0, *e8;

	synthetic_host(w, other);
	w->guest = w->host;
	check(x86_cpuid_shape(&w->guest, &o, &err) == 0);
	if (x86_cpu_template_check_host(&w->t, &w->host, &w->msrs, &err))
		check_error(&err);
	if (x86_cpu_template_apply(&w->t, &w->guest, &w->host, &err)) {
		check_error(&err);
	} else {
		check(w->guest.head.nent <= X86_CPUID_MAX_ENTRIES);
		e0 = x86_cpuid_find(&w->guest, 0, 0);
		e8 = x86_cpuid_find(&w->guest, 0x80000000, 0);
		check(e0 && x86_cpuid_find(&w->guest, 1, 0));
		for (unsigned int i = 0; i < w->guest.head.nent; i++) {
			uint32_t f = w->guest.entry[i].function;

			check(f >= 0x40000000 || f <= e0->eax);
			check(!e8 || f <= 0x80000000 || f > 0x8fffffff ||
			      f <= e8->eax);
		}
	}
	if (x86_cpu_template_msr_values(&w->t, &w->msrs, &w->vals, &err))
		check_error(&err);
	else
		check(w->vals.head.nmsrs <= w->t.nmsrs);
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	struct work *w = calloc(1, sizeof(*w));
	char *buf = malloc(size ? size : 1);
	struct rv_err err = { .msg = "" };

	check(w && buf);
	memcpy(buf, data, size);
	if (x86_cpu_template_parse(buf, size, &w->t, &err) < 0) {
		check_error(&err);
		check(w->t.nleaves == 0 && w->t.nmsrs == 0);
		goto out;
	}
	check_model(&w->t);
	round_trip(w);
	apply(w, false);
	apply(w, true);
	if (x86_cpu_template_is_features(&w->t)) {
		const struct cpu_template *hosts[2] = { &w->t, &w->t };
		const char *files[2] = { "a", "b" };
		bool has_leaf0 = false;

		for (unsigned int i = 0; i < w->t.nleaves; i++)
			has_leaf0 |= !w->t.leaf[i].leaf && !w->t.leaf[i].subleaf;
		if (x86_cpu_template_intersect(hosts, files, 2, &w->t2, &err))
			check(!has_leaf0);
		else
			check_model(&w->t2);
	}
out:
	free(buf);
	free(w);
}

#ifndef FUZZ_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}

#else

static const struct {
	const char *name, *body;
} seeds[] = {
	{ "empty", "{}" },
	{ "sections", "{\"cpuid_modifiers\": [], \"msr_modifiers\": [], "
	  "\"kvm_capabilities\": [], \"reg_modifiers\": [], "
	  "\"vcpu_features\": []}" },
	{ "hand", "{\"cpuid_modifiers\": [{\"leaf\": \"0b111\", \"subleaf\": "
	  "\"0\", \"flags\": 1, \"modifiers\": [{\"register\": \"ebx\", "
	  "\"bitmap\": \"0bxxxxxxxx_xxxxxxx0_xxxxxxxx_xx1xxxxx\"}]}, "
	  "{\"leaf\": \"0x0\", \"subleaf\": \"0x0\", \"flags\": 0, "
	  "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": "
	  "\"0b00000000000000000000000000001010\"}]}], \"msr_modifiers\": "
	  "[{\"addr\": \"266\", \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxx1xxxxx00\"}]}" },
	{ "zero-leaf", "{\"cpuid_modifiers\": [{\"leaf\": \"0x1f\", "
	  "\"subleaf\": \"0x0\", \"flags\": 1, \"modifiers\": ["
	  "{\"register\": \"eax\", \"bitmap\": \"0b" "00000000000000000000000000000000\"},"
	  "{\"register\": \"ebx\", \"bitmap\": \"0b" "00000000000000000000000000000000\"},"
	  "{\"register\": \"ecx\", \"bitmap\": \"0b" "00000000000000000000000000000000\"},"
	  "{\"register\": \"edx\", \"bitmap\": \"0b" "00000000000000000000000000000000\"}]}]}" },
	{ "bad-bitmap", "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", "
	  "\"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": [{\"register\": "
	  "\"eax\", \"bitmap\": \"0b0000000000000000000000000000000y\"}]}]}" },
	{ "aarch64", "{\"reg_modifiers\": [{\"addr\": \"0x603000000013c020\", "
	  "\"bitmap\": \"0b0\"}]}" },
	{ "nul", "{\"msr_modifiers\": [{\"addr\": \"0x10a\\u0000\", \"bitmap\": "
	  "\"0b0\"}]}" },
};

static int write_seed(const char *dir, const char *name, const char *body)
{
	char path[4096];
	size_t len = strlen(body);
	FILE *f;

	fuzz_one((const uint8_t *)body, len);   /* a crashing seed shows here */
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(body, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct work *w = calloc(1, sizeof(*w));
	const struct cpu_template *hosts[2];
	const char *files[2] = { "a", "b" };
	struct cpu_template *other = calloc(1, sizeof(*other));
	struct rv_err err;
	char *json;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	if (!w || !other)
		return 1;
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++)
		rc |= write_seed(argv[1], seeds[k].name, seeds[k].body);
	/* Both hosts' features files and their fleet template. */
	synthetic_host(w, false);
	if (x86_cpu_features_from_kvm(&w->host, &w->msrs, &w->t, &err))
		return 1;
	synthetic_host(w, true);
	if (x86_cpu_features_from_kvm(&w->host, &w->msrs, other, &err))
		return 1;
	hosts[0] = &w->t;
	hosts[1] = other;
	if (x86_cpu_template_intersect(hosts, files, 2, &w->t2, &err))
		return 1;
	json = x86_cpu_template_to_json(&w->t);
	rc |= !json || write_seed(argv[1], "features-a", json);
	free(json);
	json = x86_cpu_template_to_json(other);
	rc |= !json || write_seed(argv[1], "features-b", json);
	free(json);
	json = x86_cpu_template_to_json(&w->t2);
	rc |= !json || write_seed(argv[1], "fleet", json);
	free(json);
	free(other);
	free(w);
	return rc;
}

#endif
