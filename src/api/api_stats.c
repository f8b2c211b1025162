/* See api_stats.h. The vm layer prints its counters one way only ("NAME
 * VALUE UNIT" lines); this reads them back into JSON, so the two views can
 * never disagree. */
#include "api/api_stats.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/vm.h"

char *api_stats_json(struct vm *vm)
{
	struct json_object *o = json_object_new_object();
	char *text = NULL, *out = NULL, *save = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!o || !m) {
		if (m)
			fclose(m);
		json_object_put(o);
		free(text);
		return NULL;
	}
	vm_write_stats(vm, m);
	fclose(m);
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[96];
		long long v;

		if (sscanf(line, "%95s %lld", name, &v) == 2)
			json_object_object_add(o, name, json_object_new_int64(v));
	}
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	free(text);
	return out;
}
