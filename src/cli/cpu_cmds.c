/* See cpu_cmds.h. Both commands end in one JSON document, on stdout or
 * in --out's file. */
#include "cli/cpu_cmds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/cpu_template.h"
#include "util/file.h"
#include "vm/kvm_sys.h"

_Static_assert(CLI_MAX_INPUTS <= CPU_TEMPLATE_MAX_HOSTS,
	       "cpu-template takes more files than the intersection");

static int write_json(const char *path, const char *json, struct rv_err *err)
{
	size_t len = strlen(json);
	FILE *f;

	if (!path) {
		if (fwrite(json, 1, len, stdout) != len || fflush(stdout))
			return rv_fail_errno(err, "cannot write to stdout");
		return 0;
	}
	f = fopen(path, "we");
	if (!f)
		return rv_fail_errno(err, "cannot create %s", path);
	if (fwrite(json, 1, len, f) != len) {
		rv_fail_errno(err, "cannot write %s", path);
		fclose(f);
		unlink(path);   /* no half a template */
		return -1;
	}
	if (fclose(f)) {
		rv_fail_errno(err, "cannot write %s", path);
		unlink(path);
		return -1;
	}
	return 0;
}

static int print_template(const struct cpu_template *t, const char *path,
			  struct rv_err *err)
{
	char *json = x86_cpu_template_to_json(t);
	int rc;

	if (!json)
		return rv_fail(err, "out of memory printing the JSON");
	rc = write_json(path, json, err);
	free(json);
	return rc;
}

static int cpu_features(const struct cli_opts *o, struct rv_err *err)
{
	/* RINGVM_KVM_DEVICE: another KVM node, as for ringvm run. */
	const char *dev = getenv("RINGVM_KVM_DEVICE");
	struct cpu_template *t;
	int fd, rc;

	fd = kvm_open(dev ? dev : "/dev/kvm", err);
	if (fd < 0)
		return -1;
	t = malloc(sizeof(*t));
	if (!t) {
		close(fd);
		return rv_fail(err, "out of memory");
	}
	rc = x86_cpu_features_probe(fd, t, err);
	close(fd);
	if (rc == 0)
		rc = print_template(t, o->out_path, err);
	free(t);
	return rc;
}

static int read_features(const char *path, struct cpu_template *t,
			 struct rv_err *err)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if (file_read_all(path, "features file", CPU_TEMPLATE_MAX_JSON, &buf,
			  &len, err) < 0)
		return -1;
	rc = x86_cpu_template_parse((const char *)buf, len, t, err);
	free(buf);
	if (rc < 0) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		return rv_fail(err, "%s: %s", path, msg);
	}
	return 0;
}

static int cpu_template(const struct cli_opts *o, struct rv_err *err)
{
	const struct cpu_template *hosts[CLI_MAX_INPUTS];
	struct cpu_template *in, *out;
	int rc = -1;

	/* Every file is read before --out is written: it may be one of them. */
	in = calloc(o->ninputs, sizeof(*in));
	out = malloc(sizeof(*out));
	if (!in || !out) {
		rv_fail(err, "out of memory");
		goto done;
	}
	for (unsigned int i = 0; i < o->ninputs; i++) {
		if (read_features(o->inputs[i], &in[i], err) < 0)
			goto done;
		hosts[i] = &in[i];
	}
	if (x86_cpu_template_intersect(hosts, o->inputs, o->ninputs, out,
				       err) == 0)
		rc = print_template(out, o->out_path, err);
done:
	free(in);
	free(out);
	return rc;
}

int cli_cpu(enum cli_action cmd, const struct cli_opts *o)
{
	struct rv_err err = { { 0 } };
	int rc;

	if (cmd == CLI_CPU_FEATURES)
		rc = cpu_features(o, &err);
	else
		rc = cpu_template(o, &err);
	if (rc < 0) {
		fprintf(stderr, "ringvm: %s\n", err.msg);
		return 1;
	}
	return 0;
}
