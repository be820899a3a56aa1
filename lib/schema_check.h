/* Checks a tools/call's arguments against the tool's inputSchema: in the router, before the
 * call leaves it, so a client learns which argument is wrong and why without bothering the
 * server; and in the built-in servers, which must hold on their own when run standalone.
 * A JSON Schema subset: type, enum, const, numeric bounds, multipleOf, string length,
 * array items and bounds, uniqueItems, object properties, required, additionalProperties,
 * property counts, allOf/anyOf/oneOf/not, boolean schemas and same-document $ref. Keywords
 * it does not know (pattern, format, if/then/else, ...) are not enforced: the server still
 * validates, this only catches what is certain. */
#ifndef MCPGATE_SCHEMA_CHECK_H
#define MCPGATE_SCHEMA_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SCHEMA_MAX_DEPTH 64 /* nesting of schema and value together; deeper is refused */

/* Returns true when `value` satisfies `schema` (NULL or a non-object/non-boolean schema
 * accepts everything). Otherwise false, with one sentence in err such as
 * "argument 'user.age': must be >= 0, got -3". */
bool schema_check(const json_t *schema, const json_t *value, char *err, size_t errlen);

#endif
