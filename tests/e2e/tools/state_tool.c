/* state-tool: does to ringvm's files and streams what only a test should,
 * to show that restore and an incoming migration refuse what they must.
 * Every edit keeps the checksums valid, so the refusal comes from the check
 * that matters (the format version, the CPU features), not a checksum.
 *
 *   state-tool format-version FILE N   the header says format version N
 *   state-tool add-feature FILE NAME   vCPU 0's CPUID gains a feature
 *                                      (avx512f, sha_ni, ...)
 *   state-tool send-hello URL FILE     offers the guest of state FILE to
 *                                      a migration destination at URL as
 *                                      a source would; prints its answer
 *                                      ("ACK" or "NACK: reason")
 *   state-tool features-without FILE NAME
 *                                      a features file (ringvm
 *                                      cpu-features) of a host without
 *                                      feature NAME, on stdout
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "arch/x86/cpu_template.h"
#include "arch/x86/cpuid_features.h"
#include "arch/x86/vcpu_state.h"
#include "migrate/mig_stream.h"
#include "migrate/mig_transport.h"
#include "state/state.h"
#include "util/file.h"
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

/* A source's first steps: header, HELLO ("config" and vCPU 0's CPUID as
 * "cpuid"), then whatever the destination answers. */
static int send_hello(const char *url, const char *path)
{
	struct state_reader r;
	struct state_writer w;
	struct x86_vcpu_state *s = x86_vcpu_state_new();
	struct mig_conn c;
	struct rv_err err;
	const uint8_t *buf;
	uint8_t *ans;
	uint64_t alen;
	uint32_t type;
	char peer[33];
	size_t len;
	int fd;

	if (!s || state_read_file(&r, path, &err) < 0 ||
	    x86_vcpu_state_load(&r, 0, s, &err) < 0)
		return die(s ? err.msg : "out of memory");
	state_writer_init(&w, r.ringvm_version);
	for (unsigned int i = 0; i < r.nsec; i++) {
		if (strcmp(r.sec[i].name, "config"))
			continue;
		state_begin(&w, r.sec[i].name, r.sec[i].version);
		state_put_bytes(&w, r.sec[i].payload, r.sec[i].len);
		state_end(&w);
	}
	x86_cpuid_section_save(&w, &s->cpuid);
	if (state_writer_finish(&w, &buf, &len, &err) < 0)
		return die(err.msg);
	fd = mig_connect(url, 10000, &err);
	if (fd < 0)
		return die(err.msg);
	mig_conn_init(&c, fd, "destination", 60000);
	if (mig_send_header(&c, RINGVM_VERSION, &err) < 0 ||
	    mig_recv_header(&c, peer, &err) < 0 ||
	    mig_send_record(&c, MIG_REC_HELLO, buf, len, &err) < 0 ||
	    mig_recv_record(&c, &type, &ans, &alen, &err) < 0)
		return die(err.msg);
	if (type == MIG_REC_ACK)
		printf("ACK\n");
	else
		printf("NACK: %.*s\n", (int)alen, (const char *)ans);
	free(ans);
	mig_conn_close(&c);
	state_writer_free(&w);
	state_reader_free(&r);
	x86_vcpu_state_free(s);
	return 0;
}

static int features_without(const char *path, const char *name)
{
	struct cpu_template *t = malloc(sizeof(*t));
	const struct x86_feature_word *fw;
	struct rv_err err;
	unsigned int bit;
	uint8_t *buf;
	size_t len;
	char *out;

	if (!t || find_feature(name, &fw, &bit) < 0)
		return die("unknown feature name");
	if (file_read_all(path, "features file", CPU_TEMPLATE_MAX_JSON, &buf,
			  &len, &err) < 0 ||
	    x86_cpu_template_parse((const char *)buf, len, t, &err) < 0)
		return die(err.msg);
	for (unsigned int i = 0; i < t->nleaves; i++) {
		struct cpu_leaf_modifier *l = &t->leaf[i];

		if (l->leaf != fw->function || l->subleaf != fw->index)
			continue;
		for (unsigned int k = 0; k < l->nregs; k++)
			if (l->reg[k].reg == fw->reg)
				l->reg[k].value &= ~(1u << bit);
	}
	out = x86_cpu_template_to_json(t);
	if (!out)
		return die("out of memory");
	fputs(out, stdout);
	free(out);
	free(buf);
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "format-version"))
		return format_version(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "add-feature"))
		return add_feature(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "send-hello"))
		return send_hello(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "features-without"))
		return features_without(argv[2], argv[3]);
	fprintf(stderr, "usage: state-tool format-version FILE N | add-feature FILE NAME |\n"
		"       send-hello URL FILE | features-without FILE NAME\n");
	return 2;
}
