/* Escaped sizes and escape-aware cuts of text bound for a JSON string (see json_text.h). */
#include "json_text.h"

/* What one byte becomes in jansson's output: the short escapes, \u00XX for other control
 * characters, itself otherwise (jansson leaves UTF-8 unescaped). */
static size_t escaped_size(unsigned char c)
{
	switch (c) {
	case '"': case '\\': case '\b': case '\f': case '\n': case '\r': case '\t':
		return 2;
	default:
		return c < 0x20 ? 6 : 1;
	}
}

size_t json_text_escaped_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += escaped_size((unsigned char)s[i]);
	return n;
}

size_t json_text_cut(const char *s, size_t len, size_t budget, bool *truncated)
{
	size_t used = 0, i = 0;
	while (i < len && used + escaped_size((unsigned char)s[i]) <= budget)
		used += escaped_size((unsigned char)s[i++]);
	if (truncated)
		*truncated = i < len;
	/* Back off to the start of a character so a multi-byte one is never cut in two. */
	while (i > 0 && i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}
