/* The CPU each vCPU is given: KVM's supported CPUID shaped for this
 * machine (topology, KVM's paravirtual leaves), narrowed by a CPU template
 * when there is one (what every host of a fleet offers, so the guest can
 * move between them), plus the template's feature MSR values. vCPU 0's
 * table is kept: a live migration shows it to the destination first. And
 * the other end: whether a host may take a restored or migrated guest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/cpu_template.h"
#include "arch/x86/cpuid_features.h"
#include "arch/x86/regs.h"
#include "arch/x86/vcpu_state.h"
#include "util/file.h"
#include "vm/vcpu.h"
#include "vm/vm_internal.h"

struct cpu_setup {
	struct cpu_template *t;
	struct x86_msr_values *host_msrs, *vals;
};

/* A template from its JSON text, or else from a file. */
static int parse_template(const char *json, const char *path,
			  struct cpu_template *t, struct rv_err *err)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (json)
		return x86_cpu_template_parse(json, strlen(json), t, err);
	if (file_read_all(path, "CPU template", CPU_TEMPLATE_MAX_JSON, &buf,
			  &len, err) < 0)
		return -1;
	rc = x86_cpu_template_parse((const char *)buf, len, t, err);
	free(buf);
	return rc;
}

static int load_template(const struct vm *vm, struct cpu_setup *cs,
			 struct rv_err *err)
{
	const struct vm_config *cfg = vm->cfg;
	int rc;

	cs->t = calloc(1, sizeof(*cs->t));
	cs->host_msrs = calloc(1, sizeof(*cs->host_msrs));
	cs->vals = calloc(1, sizeof(*cs->vals));
	if (!cs->t || !cs->host_msrs || !cs->vals)
		return rv_fail(err, "out of memory for the CPU template");
	rc = parse_template(cfg->cpu_template_json, cfg->cpu_template, cs->t,
			    err);
	if (rc == 0 &&
	    x86_feature_msrs_read(vm->kvm_fd, cs->host_msrs, err) == 0 &&
	    x86_cpu_template_check_host(cs->t, &vm->m.supported_cpuid,
					cs->host_msrs, err) == 0)
		return 0;
	{
		char tmp[sizeof(err->msg)];

		snprintf(tmp, sizeof(tmp), "%s", err->msg);
		rv_fail(err, "CPU template%s%s: %s",
			cfg->cpu_template ? " " : "",
			cfg->cpu_template ? cfg->cpu_template : "", tmp);
	}
	return -1;
}

static int set_msrs(int fd, const struct x86_msr_values *v,
		    struct rv_err *err)
{
	int r;

	if (v->head.nmsrs == 0)
		return 0;
	r = ioctl(fd, KVM_SET_MSRS, v);
	if (r < 0)
		return rv_fail_errno(err, "KVM_SET_MSRS (CPU template)");
	if ((unsigned int)r != v->head.nmsrs)
		return rv_fail(err, "CPU template: KVM refused feature MSR %#x",
			       v->entry[r].index);
	return 0;
}

int vm_cpu_setup(struct vm *vm, struct rv_err *err)
{
	struct machine *m = &vm->m;
	struct cpu_setup cs = { 0 };
	int rc = -1;

	if ((vm->cfg->cpu_template || vm->cfg->cpu_template_json) &&
	    (load_template(vm, &cs, err) < 0 ||
	     x86_cpu_template_msr_values(cs.t, cs.host_msrs, cs.vals, err) < 0))
		goto out;
	for (unsigned int i = 0; i < m->nvcpus; i++) {
		struct x86_cpuid_opts o = { .cpu_index = i, .ncpus = m->nvcpus,
					    .tsc_deadline = m->tsc_deadline };

		vm->cpuid = m->supported_cpuid;
		if (x86_cpuid_shape(&vm->cpuid, &o, err) < 0)
			goto out;
		if (cs.t && x86_cpu_template_apply(cs.t, &vm->cpuid,
						   &m->supported_cpuid,
						   err) < 0)
			goto out;
		if (x86_vcpu_setup(m->vcpu[i].fd, &vm->cpuid, err) < 0)
			goto out;
		/* After the reset MSRs: the template's values win. */
		if (cs.t && set_msrs(m->vcpu[i].fd, cs.vals, err) < 0)
			goto out;
		if (i == 0)
			vm->cpuid0 = vm->cpuid;
	}
	/* Kept, in a normal form, for the snapshots and migrations to come. */
	if (cs.t && !(vm->cpu_template_json = x86_cpu_template_to_json(cs.t))) {
		rv_fail(err, "out of memory for the CPU template");
		goto out;
	}
	rc = 0;
out:
	free(cs.t);
	free(cs.host_msrs);
	free(cs.vals);
	return rc;
}

#define TEMPLATE_SECTION_VERSION 1

void vm_cpu_template_save(const struct vm *vm, struct state_writer *w)
{
	if (!vm->cpu_template_json)
		return;
	state_begin(w, "cpu_template", TEMPLATE_SECTION_VERSION);
	state_put_bytes(w, vm->cpu_template_json,
			strlen(vm->cpu_template_json));
	state_end(w);
}

/* The section's text (malloc'ed, NUL-terminated), or NULL when the guest
 * has no template (0) or on error (-1). */
static int template_text(const struct state_reader *r, char **out,
			 struct rv_err *err)
{
	struct state_cursor c;

	*out = NULL;
	if (!state_has_section(r, "cpu_template"))
		return 0;
	if (state_section(r, "cpu_template", TEMPLATE_SECTION_VERSION, &c,
			  NULL, err) < 0)
		return -1;
	*out = calloc(1, c.sec->len + 1);
	if (!*out)
		return rv_fail(err, "out of memory for the CPU template");
	state_get_bytes(&c, *out, c.sec->len);
	if (state_cursor_finish(&c, err) < 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int vm_cpu_template_load(struct vm *vm, const struct state_reader *r,
			 struct rv_err *err)
{
	free(vm->cpu_template_json);
	return template_text(r, &vm->cpu_template_json, err);
}

/* The guest's own template must still hold here: what it forces, this
 * host offers (the features a guest started under it may rely on). */
static int check_guest_template(const struct state_reader *r, int kvm_fd,
				const struct x86_cpuid *host,
				struct rv_err *err)
{
	struct cpu_template *t = NULL;
	struct x86_msr_values *msrs = NULL;
	char *json;
	int rc = -1;

	if (template_text(r, &json, err) < 0)
		return -1;
	if (!json)
		return 0;
	t = calloc(1, sizeof(*t));
	msrs = calloc(1, sizeof(*msrs));
	if (!t || !msrs)
		rv_fail(err, "out of memory");
	else if (x86_cpu_template_parse(json, strlen(json), t, err) == 0 &&
		 x86_feature_msrs_read(kvm_fd, msrs, err) == 0 &&
		 x86_cpu_template_check_host(t, host, msrs, err) == 0)
		rc = 0;
	if (rc < 0) {
		char tmp[sizeof(err->msg)];

		snprintf(tmp, sizeof(tmp), "%s", err->msg);
		rv_fail(err, "the guest's CPU template does not hold on this host: %s",
			tmp);
	}
	free(json);
	free(t);
	free(msrs);
	return rc;
}

/* What this host allows a guest: KVM's CPUID, narrowed by its own
 * template when it has one. */
static int host_allows(int kvm_fd, const char *host_template,
		       struct x86_cpuid *allowed, struct rv_err *err)
{
	struct cpu_template *t;
	struct x86_cpuid *supported;
	int rc = -1;

	allowed->head.nent = X86_CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, allowed) < 0)
		return rv_fail_errno(err, "KVM_GET_SUPPORTED_CPUID");
	if (!host_template)
		return 0;
	t = calloc(1, sizeof(*t));
	supported = malloc(sizeof(*supported));
	if (!t || !supported) {
		rv_fail(err, "out of memory");
	} else {
		*supported = *allowed;
		if (parse_template(NULL, host_template, t, err) == 0 &&
		    x86_cpu_template_apply(t, allowed, supported, err) == 0)
			rc = 0;
		else {
			char tmp[sizeof(err->msg)];

			snprintf(tmp, sizeof(tmp), "%s", err->msg);
			rv_fail(err, "CPU template %s: %s", host_template, tmp);
		}
	}
	free(t);
	free(supported);
	return rc;
}

int vm_cpu_check(const struct state_reader *r, int kvm_fd,
		 const char *host_template, struct rv_err *err)
{
	struct x86_vcpu_state *s = x86_vcpu_state_new();
	struct x86_cpuid *allowed = calloc(1, sizeof(*allowed));
	char missing[384];
	unsigned int n;
	int rc = -1;

	if (!s || !allowed) {
		rv_fail(err, "out of memory");
		goto out;
	}
	if (state_has_section(r, "cpuid") ?
	    x86_cpuid_section_load(r, &s->cpuid, err) < 0 :
	    x86_vcpu_state_load(r, 0, s, err) < 0)
		goto out;
	if (host_allows(kvm_fd, NULL, allowed, err) < 0 ||
	    check_guest_template(r, kvm_fd, allowed, err) < 0)
		goto out;
	if (host_template && host_allows(kvm_fd, host_template, allowed,
					 err) < 0)
		goto out;
	n = x86_cpuid_missing(&s->cpuid, allowed,
			      ioctl(kvm_fd, KVM_CHECK_EXTENSION,
				    KVM_CAP_TSC_DEADLINE_TIMER) > 0,
			      missing, sizeof(missing));
	if (n) {
		rv_fail(err, "this host %s %u CPU feature%s the guest was started with: %s",
			host_template ? "(under its CPU template) lacks" : "lacks",
			n, n == 1 ? "" : "s", missing);
		goto out;
	}
	rc = 0;
out:
	x86_vcpu_state_free(s);
	free(allowed);
	return rc;
}
