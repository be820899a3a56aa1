/* Roles and the one access decision (see rbac.h). Policies are small (a handful of roles,
 * tens of patterns), so lookups are linear scans. */
#include "rbac.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

static const char *const kind_names[RBAC_KINDS] = { "tools", "prompts", "resources" };

const char *rbac_kind_name(enum rbac_kind kind)
{
	return kind < RBAC_KINDS ? kind_names[kind] : "?";
}

__attribute__((format(printf, 3, 4)))
static int report(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The same characters `mcpgate keygen --roles` accepts, so every key's roles can be defined. */
static bool valid_role_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("-_.@", s[i])))
			return false;
	return true;
}

/* Printable ASCII without spaces: what tool names and URIs are written in. */
static bool valid_pattern(const json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= RBAC_PATTERN_MAX)
		return false;
	const char *s = json_string_value(v);
	for (size_t i = 0; i < json_string_length(v); i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static void role_free(struct rbac_role *r)
{
	free(r->name);
	for (size_t k = 0; k < RBAC_KINDS; k++) {
		for (size_t i = 0; i < r->n_patterns[k]; i++)
			free(r->patterns[k][i]);
		free(r->patterns[k]);
	}
	for (size_t i = 0; i < r->n_tool_limits; i++)
		free(r->tool_limits[i].pattern);
	free(r->tool_limits);
	memset(r, 0, sizeof *r);
}

void rbac_free(struct rbac *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_roles; i++)
		role_free(&p->roles[i]);
	free(p->roles);
	p->roles = NULL;
	p->n_roles = 0;
}

static int load_patterns(struct rbac_role *r, enum rbac_kind k, const json_t *list,
                         const char *src, char *err, size_t errlen)
{
	size_t i;
	json_t *item;

	if (!json_is_array(list) || json_array_size(list) > RBAC_MAX_PATTERNS)
		return report(err, errlen, "%s: role \"%s\": \"%s\" must be an array of at most %d "
		              "patterns", src, r->name, kind_names[k], RBAC_MAX_PATTERNS);
	r->patterns[k] = calloc(json_array_size(list) + 1, sizeof *r->patterns[k]);
	if (!r->patterns[k])
		return report(err, errlen, "%s: out of memory", src);
	json_array_foreach(list, i, item) {
		if (!valid_pattern(item))
			return report(err, errlen, "%s: role \"%s\": %s[%zu] must be a pattern of 1..%d "
			              "printable characters without spaces", src, r->name, kind_names[k], i,
			              RBAC_PATTERN_MAX - 1);
		r->patterns[k][i] = strdup(json_string_value(item));
		if (!r->patterns[k][i])
			return report(err, errlen, "%s: out of memory", src);
		r->n_patterns[k] = i + 1;
	}
	return 0;
}

static int load_rpm(const json_t *v, uint32_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > RBAC_RPM_MAX)
		return -1;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int load_tool_limits(struct rbac_role *r, const json_t *obj, const char *src, char *err,
                            size_t errlen)
{
	const char *glob;
	json_t *v;

	if (!json_is_object(obj) || json_object_size(obj) > RBAC_MAX_PATTERNS)
		return report(err, errlen, "%s: role \"%s\": \"tool_rpm\" must be an object of at most "
		              "%d {\"glob\": N}", src, r->name, RBAC_MAX_PATTERNS);
	r->tool_limits = calloc(json_object_size(obj) + 1, sizeof *r->tool_limits);
	if (!r->tool_limits)
		return report(err, errlen, "%s: out of memory", src);
	json_object_foreach((json_t *)obj, glob, v) {
		struct rbac_tool_limit *t = &r->tool_limits[r->n_tool_limits];
		json_t *name = json_string(glob);
		bool ok = valid_pattern(name);
		json_decref(name);
		if (!ok)
			return report(err, errlen, "%s: role \"%s\": tool_rpm keys must be tool patterns "
			              "of printable characters", src, r->name);
		if (load_rpm(v, &t->rpm) < 0)
			return report(err, errlen, "%s: role \"%s\": tool_rpm[\"%s\"] must be an integer "
			              "in 1..%d", src, r->name, glob, RBAC_RPM_MAX);
		t->pattern = strdup(glob);
		if (!t->pattern)
			return report(err, errlen, "%s: out of memory", src);
		r->n_tool_limits++;
	}
	return 0;
}

static int load_role(struct rbac_role *r, const char *name, const json_t *def, const char *src,
                     char *err, size_t errlen)
{
	static const char *const known[] = { "tools", "prompts", "resources", "rpm", "tool_rpm", NULL };
	const char *key;
	json_t *v;

	r->name = strdup(name);
	if (!r->name)
		return report(err, errlen, "%s: out of memory", src);
	if (!json_is_object(def))
		return report(err, errlen, "%s: role \"%s\" must be an object", src, name);
	json_object_foreach((json_t *)def, key, v) {
		size_t i;
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (!known[i])
			return report(err, errlen, "%s: role \"%s\": unknown key \"%.64s\" (known: tools, "
			              "prompts, resources, rpm, tool_rpm)", src, name, key);
	}
	for (size_t k = 0; k < RBAC_KINDS; k++) {
		json_t *list = json_object_get(def, kind_names[k]);
		if (list && load_patterns(r, k, list, src, err, errlen) < 0)
			return -1;
	}
	v = json_object_get(def, "rpm");
	if (v && load_rpm(v, &r->rpm) < 0)
		return report(err, errlen, "%s: role \"%s\": \"rpm\" must be an integer in 1..%d", src,
		              name, RBAC_RPM_MAX);
	v = json_object_get(def, "tool_rpm");
	return v ? load_tool_limits(r, v, src, err, errlen) : 0;
}

static struct rbac_role *find_role(const struct rbac *p, const char *name)
{
	for (size_t i = 0; i < p->n_roles; i++)
		if (strcmp(p->roles[i].name, name) == 0)
			return &p->roles[i];
	return NULL;
}

const struct rbac_role *rbac_role_find(const struct rbac *p, const char *name)
{
	return find_role(p, name);
}

/* Adds (or replaces) every role of a {"name": {...}} object. */
static int load_roles(struct rbac *p, const json_t *roles, const char *src, char *err,
                      size_t errlen)
{
	const char *name;
	json_t *def;

	if (!json_is_object(roles))
		return report(err, errlen, "%s: \"roles\" must be an object of role name -> definition",
		              src);
	json_object_foreach((json_t *)roles, name, def) {
		if (!valid_role_name(name))
			return report(err, errlen, "%s: role name \"%.64s\" must be 1..64 of "
			              "[A-Za-z0-9._@-]", src, name);
		struct rbac_role next = { 0 };
		if (load_role(&next, name, def, src, err, errlen) < 0) {
			role_free(&next);
			return -1;
		}
		struct rbac_role *old = find_role(p, name);
		if (old) {
			role_free(old);
			*old = next;
			continue;
		}
		if (p->n_roles >= RBAC_MAX_ROLES) {
			role_free(&next);
			return report(err, errlen, "%s: more than %d roles", src, RBAC_MAX_ROLES);
		}
		p->roles[p->n_roles++] = next;
	}
	return 0;
}

int rbac_load(struct rbac *out, const char *defaults, size_t defaults_len,
              const json_t *config_roles, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->roles = calloc(RBAC_MAX_ROLES, sizeof *out->roles);
	if (!out->roles)
		return report(err, errlen, "rbac: out of memory");
	if (defaults) {
		json_error_t jerr;
		json_t *doc = json_loadb(defaults, defaults_len, JSON_REJECT_DUPLICATES, &jerr);
		const char *key;
		json_t *v;
		int rc = 0;
		if (!json_is_object(doc)) {
			rc = report(err, errlen, "rbac defaults:%d:%d: %s", jerr.line, jerr.column,
			            doc ? "must be an object" : jerr.text);
		} else {
			json_object_foreach(doc, key, v)
				if (strcmp(key, "roles") != 0 && strcmp(key, "comment") != 0)
					rc = report(err, errlen, "rbac defaults: unknown key \"%.64s\" (known: "
					            "roles, comment)", key);
			if (rc == 0 && json_object_get(doc, "roles"))
				rc = load_roles(out, json_object_get(doc, "roles"), "rbac defaults", err, errlen);
		}
		json_decref(doc);
		if (rc < 0) {
			rbac_free(out);
			return -1;
		}
	}
	if (config_roles && load_roles(out, config_roles, "config roles", err, errlen) < 0) {
		rbac_free(out);
		return -1;
	}
	return 0;
}

static bool role_allows(const struct rbac_role *r, enum rbac_kind kind, const char *name)
{
	for (size_t i = 0; i < r->n_patterns[kind]; i++)
		if (name_pattern_match(r->patterns[kind][i], name))
			return true;
	return false;
}

/* The principal's roles that exist in the policy, one at a time. */
static const struct rbac_role *next_role(const struct rbac *p, const json_t *roles, size_t *i)
{
	while (json_is_array(roles) && *i < json_array_size(roles)) {
		const char *name = json_string_value(json_array_get(roles, (*i)++));
		const struct rbac_role *r = name ? find_role(p, name) : NULL;
		if (r)
			return r;
	}
	return NULL;
}

bool rbac_allows(const struct rbac *p, const json_t *roles, enum rbac_kind kind, const char *name)
{
	size_t i = 0;
	const struct rbac_role *r;

	if (!p || kind >= RBAC_KINDS || !name || !name[0] || strnlen(name, RBAC_NAME_MAX) >= RBAC_NAME_MAX)
		return false;
	while ((r = next_role(p, roles, &i)))
		if (role_allows(r, kind, name))
			return true;
	return false;
}

static const char *item_name(const json_t *item, enum rbac_kind kind)
{
	if (kind != RBAC_RESOURCE)
		return json_string_value(json_object_get(item, "name"));
	const char *uri = json_string_value(json_object_get(item, "uri"));
	return uri ? uri : json_string_value(json_object_get(item, "uriTemplate"));
}

size_t rbac_filter_list(const struct rbac *p, const json_t *roles, enum rbac_kind kind,
                        json_t *items)
{
	size_t removed = 0;
	for (size_t i = 0; json_is_array(items) && i < json_array_size(items);) {
		if (rbac_allows(p, roles, kind, item_name(json_array_get(items, i), kind))) {
			i++;
			continue;
		}
		json_array_remove(items, i);
		removed++;
	}
	return removed;
}

static bool list_has(const json_t *list, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

json_t *rbac_patterns(const struct rbac *p, const json_t *roles, enum rbac_kind kind)
{
	json_t *out = json_array();
	size_t i = 0;
	const struct rbac_role *r;

	if (!out || kind >= RBAC_KINDS)
		return out;
	while ((r = next_role(p, roles, &i))) {
		for (size_t j = 0; j < r->n_patterns[kind]; j++) {
			if (list_has(out, r->patterns[kind][j]))
				continue;
			if (json_array_append_new(out, json_string(r->patterns[kind][j])) < 0) {
				json_decref(out);
				return NULL;
			}
		}
	}
	return out;
}

uint32_t rbac_principal_rpm(const struct rbac *p, const json_t *roles)
{
	uint32_t best = 0;
	size_t i = 0;
	const struct rbac_role *r;

	while ((r = next_role(p, roles, &i)))
		if (r->rpm > best)
			best = r->rpm;
	return best;
}

/* This role's limit for the tool: the smallest matching one, or NULL for none. */
static const struct rbac_tool_limit *role_tool_limit(const struct rbac_role *r, const char *tool)
{
	const struct rbac_tool_limit *best = NULL;
	for (size_t i = 0; i < r->n_tool_limits; i++)
		if (name_pattern_match(r->tool_limits[i].pattern, tool) &&
		    (!best || r->tool_limits[i].rpm < best->rpm))
			best = &r->tool_limits[i];
	return best;
}

bool rbac_tool_limit(const struct rbac *p, const json_t *roles, const char *tool,
                     const char **pattern, uint32_t *rpm)
{
	const struct rbac_tool_limit *chosen = NULL;
	size_t i = 0;
	const struct rbac_role *r;

	if (!p || !tool || strnlen(tool, RBAC_NAME_MAX) >= RBAC_NAME_MAX)
		return false;
	while ((r = next_role(p, roles, &i))) {
		if (!role_allows(r, RBAC_TOOL, tool))
			continue;
		const struct rbac_tool_limit *t = role_tool_limit(r, tool);
		if (!t)
			return false; /* this role grants the tool without a limit of its own */
		if (!chosen || t->rpm > chosen->rpm)
			chosen = t;
	}
	if (!chosen)
		return false;
	*pattern = chosen->pattern;
	*rpm = chosen->rpm;
	return true;
}
