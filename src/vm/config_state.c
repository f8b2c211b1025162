/* See config_state.h. */
#include "vm/config_state.h"

#include <stdlib.h>
#include <string.h>

#define CONFIG_SECTION_VERSION 1
#define CONFIG_STR_MAX 4096

void vm_config_save(struct state_writer *w, const struct vm_config *cfg,
		    const uint8_t (*macs)[6])
{
	state_begin(w, "config", CONFIG_SECTION_VERSION);
	state_put_u64(w, cfg->mem_size);
	state_put_u32(w, cfg->ncpus);
	state_put_u8(w, (uint8_t)cfg->console);
	state_put_bool(w, cfg->rng);
	state_put_str(w, cfg->kernel ? cfg->kernel : "");
	state_put_str(w, cfg->initrd ? cfg->initrd : "");
	state_put_str(w, cfg->cmdline ? cfg->cmdline : "");
	state_put_u32(w, cfg->ndisks);
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		state_put_str(w, cfg->disk[i].path);
		state_put_bool(w, cfg->disk[i].readonly);
		state_put_bool(w, cfg->disk[i].direct);
		state_put_bool(w, cfg->disk[i].sync);
		state_put_str(w, cfg->disk[i].id ? cfg->disk[i].id : "");
	}
	state_put_u32(w, cfg->nnics);
	for (unsigned int i = 0; i < cfg->nnics; i++) {
		state_put_str(w, cfg->nic[i].tap);
		state_put_bytes(w, macs[i], 6);
		state_put_str(w, cfg->nic[i].id ? cfg->nic[i].id : "");
	}
	state_end(w);
}

/* A string from the section, kept in s; NULL when empty (optional). */
static char *take_str(struct state_cursor *c, struct vm_config_store *s)
{
	char buf[CONFIG_STR_MAX];
	char *p;

	state_get_str(c, buf, sizeof(buf));
	if (c->bad || !buf[0] ||
	    s->nstr == sizeof(s->str) / sizeof(s->str[0]))
		return NULL;
	p = strdup(buf);
	if (!p) {
		state_cursor_reject(c, "out of memory");
		return NULL;
	}
	s->str[s->nstr++] = p;
	return p;
}

int vm_config_load(const struct state_reader *r, struct vm_config_store *s,
		   struct rv_err *err)
{
	struct vm_config *cfg = &s->cfg;
	struct state_cursor c;
	uint8_t console;

	memset(s, 0, sizeof(*s));
	if (state_section(r, "config", CONFIG_SECTION_VERSION, &c, NULL, err) < 0)
		return -1;
	cfg->mem_size = state_get_u64(&c);
	cfg->ncpus = state_get_u32(&c);
	console = state_get_u8(&c);
	cfg->rng = state_get_bool(&c);
	cfg->kernel = take_str(&c, s);
	cfg->initrd = take_str(&c, s);
	cfg->cmdline = take_str(&c, s);
	if (!cfg->cmdline)
		cfg->cmdline = "";
	if (cfg->mem_size < VM_MIN_MEM || cfg->mem_size > VM_MAX_MEM ||
	    cfg->mem_size % 4096)
		state_cursor_reject(&c, "guest RAM size out of range");
	if (cfg->ncpus < 1 || cfg->ncpus > VM_MAX_VCPUS)
		state_cursor_reject(&c, "vCPU count out of range");
	if (console > CONSOLE_NONE)
		state_cursor_reject(&c, "unknown console kind");
	cfg->console = (enum console_mode)console;
	cfg->ndisks = state_get_u32(&c);
	if (cfg->ndisks > VM_MAX_DISKS) {
		state_cursor_reject(&c, "too many disks");
		cfg->ndisks = 0;
	}
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		cfg->disk[i].path = take_str(&c, s);
		cfg->disk[i].readonly = state_get_bool(&c);
		cfg->disk[i].direct = state_get_bool(&c);
		cfg->disk[i].sync = state_get_bool(&c);
		cfg->disk[i].id = take_str(&c, s);
		if (!cfg->disk[i].path)
			state_cursor_reject(&c, "a disk without a path");
	}
	cfg->nnics = state_get_u32(&c);
	if (cfg->nnics > VM_MAX_NICS) {
		state_cursor_reject(&c, "too many NICs");
		cfg->nnics = 0;
	}
	for (unsigned int i = 0; i < cfg->nnics; i++) {
		cfg->nic[i].tap = take_str(&c, s);
		state_get_bytes(&c, cfg->nic[i].mac, 6);
		cfg->nic[i].mac_set = true;
		cfg->nic[i].id = take_str(&c, s);
		if (!cfg->nic[i].tap)
			state_cursor_reject(&c, "a NIC without a TAP name");
	}
	if (state_cursor_finish(&c, err) < 0) {
		vm_config_store_free(s);
		return -1;
	}
	return 0;
}

void vm_config_store_free(struct vm_config_store *s)
{
	for (unsigned int i = 0; i < s->nstr; i++)
		free(s->str[i]);
	s->nstr = 0;
}
