/* Exposed names: how an upstream's tool, prompt or template name becomes the name a client
 * sees (<namespace>__<name>, ^[A-Za-z0-9_-]{1,64}$, long ones shortened with a hash), and the
 * glob patterns a principal's allowed tools are written in. */
#ifndef MCPGATE_ROUTER_NAMES_H
#define MCPGATE_ROUTER_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_LEN 64
#define NAME_SEPARATOR "__"
#define NAME_HASH_HEX 8 /* hex digits of the hash that ends a shortened name */

/* ^[A-Za-z0-9_-]{1,64}$ */
bool name_valid(const char *s);
/* Only [A-Za-z0-9_-], at least one, at most `max` characters (any length when max is 0). */
bool name_chars_valid(const char *s, size_t max);
/* Writes the exposed name of `name` from an upstream mounted at `ns` ("" = no prefix) into
 * out[NAME_MAX_LEN + 1]. Returns 0, or -1 when `name` has characters a client could not call
 * (the caller skips that entry). Names longer than NAME_MAX_LEN keep their first characters
 * and end in '-' plus NAME_HASH_HEX hex digits of a hash of the whole name, so the result is
 * the same on every replica and every restart. */
int name_expose(const char *ns, const char *name, char out[NAME_MAX_LEN + 1]);
/* Shell-style match: '*' any run, '?' one character, everything else literal. */
bool name_pattern_match(const char *pattern, const char *name);
/* FNV-1a, 64 bits: table keys and the shortening hash. Not for anything secret. */
uint64_t name_hash(const char *s, size_t len);

#endif
