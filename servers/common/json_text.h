/* Text measured and cut as it will stand inside a JSON string, so a capped result stays within
 * its byte budget after jansson escapes it. */
#ifndef MCPGATE_SERVERS_JSON_TEXT_H
#define MCPGATE_SERVERS_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes `len` bytes of UTF-8 take inside a JSON string as jansson writes it (quotes not
 * counted): '"' and '\\' and control characters are escaped. */
size_t json_text_escaped_len(const char *s, size_t len);

/* How many bytes of `s` fit in `budget` bytes once escaped, cut on a UTF-8 boundary. Sets
 * *truncated (when not NULL) when not all of it does. */
size_t json_text_cut(const char *s, size_t len, size_t budget, bool *truncated);

#endif
