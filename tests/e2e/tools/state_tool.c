/* state-tool: edits a ringvm state file the way only a test should, to
 * show that restore refuses what it must. Every edit keeps the file's
 * checksums valid, so the refusal comes from the check that matters (the
 * format version, the CPU features), not from a checksum.
 *
 *   state-tool format-version FILE N   the header says format version N
 *   state-tool add-feature FILE NAME   vCPU 0's CPUID gains a feature
 *                                      (avx512f, sha_ni, ...)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "arch/x86/cpuid_features.h"
#include "arch/x86/vcpu_state.h"
#include "state/state.h"
#include "util/le.h"
#include "util/version.h"

static int die(const char *msg)
{
	fprintf(stderr, "state-tool: %s\n", msg);
	return 1;
}

static int format_version(const char *path, const char *n)
{
	FILE *f = fopen(path, "r+b");
	uint8_t h[STATE_HEADER_LEN];

	if (!f || fread(h, 1, sizeof(h), f) != sizeof(h))
		return die("cannot read the header");
	put_le32(h + 8, (uint32_t)strtoul(n, NULL, 0));
	put_le32(h + 60, (uint32_t)crc32(0, h, 60));
	rewind(f);
	if (fwrite(h, 1, sizeof(h), f) != sizeof(h) || fclose(f) != 0)
		return die("cannot write the header");
	return 0;
}

/* The bit of the named feature, searched in the feature table. */
static int find_feature(const char *name, const struct x86_feature_word **w,
			unsigned int *bit)
{
	for (unsigned int i = 0; i < x86_feature_nwords; i++)
		for (unsigned int b = 0; b < 32; b++) {
			const char *n = x86_feature_name(&x86_feature_words[i], b);

			if (n && !strcmp(n, name)) {
				*w = &x86_feature_words[i];
				*bit = b;
				return 0;
			}
		}
	return -1;
}

static void set_bit(struct kvm_cpuid_entry2 *e, enum x86_reg r, unsigned int b)
{
	uint32_t *reg[] = { &e->eax, &e->ebx, &e->ecx, &e->edx };

	*reg[r] |= 1u << b;
}

static int add_feature(const char *path, const char *name)
{
	struct state_reader r;
	struct state_writer w;
	struct x86_vcpu_state *s = x86_vcpu_state_new();
	const struct x86_feature_word *fw;
	struct kvm_cpuid_entry2 *e;
	struct rv_err err;
	const uint8_t *buf;
	unsigned int bit;
	size_t len;

	if (!s || find_feature(name, &fw, &bit) < 0)
		return die("unknown feature name");
	if (state_read_file(&r, path, &err) < 0 ||
	    x86_vcpu_state_load(&r, 0, s, &err) < 0)
		return die(err.msg);
	e = x86_cpuid_find(&s->cpuid, fw->function, fw->index);
	if (!e)
		return die("vCPU 0 has no such CPUID leaf");
	set_bit(e, fw->reg, bit);
	/* Everything else goes across as it was. */
	state_writer_init(&w, r.ringvm_version);
	for (unsigned int i = 0; i < r.nsec; i++) {
		if (!strcmp(r.sec[i].name, "vcpu.0")) {
			x86_vcpu_state_save(&w, 0, s);
			continue;
		}
		state_begin(&w, r.sec[i].name, r.sec[i].version);
		state_put_bytes(&w, r.sec[i].payload, r.sec[i].len);
		state_end(&w);
	}
	if (state_writer_finish(&w, &buf, &len, &err) < 0 ||
	    state_write_file(path, buf, len, &err) < 0)
		return die(err.msg);
	state_writer_free(&w);
	state_reader_free(&r);
	x86_vcpu_state_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "format-version"))
		return format_version(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "add-feature"))
		return add_feature(argv[2], argv[3]);
	fprintf(stderr, "usage: state-tool format-version FILE N | add-feature FILE NAME\n");
	return 2;
}
