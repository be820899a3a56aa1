/* Exposed names and tool patterns (see names.h). */
#include "names.h"

#include <stdio.h>
#include <string.h>

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

bool name_chars_valid(const char *s, size_t max)
{
	size_t n = 0;
	if (!s || !*s)
		return false;
	for (; s[n]; n++) {
		if (!name_char(s[n]) || (max && n >= max))
			return false;
	}
	return true;
}

bool name_valid(const char *s)
{
	return name_chars_valid(s, NAME_MAX_LEN);
}

uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int name_expose(const char *ns, const char *name, char out[NAME_MAX_LEN + 1])
{
	/* An upstream may send names of any length; a bound keeps the work small. */
	if (!name_chars_valid(name, 1024) || (ns[0] && !name_chars_valid(ns, NAME_MAX_LEN)))
		return -1;
	char full[NAME_MAX_LEN + sizeof NAME_SEPARATOR + 1024];
	int n = snprintf(full, sizeof full, "%s%s%s", ns, ns[0] ? NAME_SEPARATOR : "", name);
	if (n < 0 || (size_t)n >= sizeof full)
		return -1;
	if (n <= NAME_MAX_LEN) {
		memcpy(out, full, (size_t)n + 1);
		return 0;
	}
	/* Shortened: the prefix keeps it readable, the hash of the whole keeps it distinct. */
	size_t keep = NAME_MAX_LEN - 1 - NAME_HASH_HEX;
	uint32_t h = (uint32_t)(name_hash(full, (size_t)n) >> 32);
	memcpy(out, full, keep);
	snprintf(out + keep, NAME_MAX_LEN + 1 - keep, "-%0*x", NAME_HASH_HEX, h);
	return 0;
}

bool name_pattern_match(const char *p, const char *s)
{
	/* Iterative glob with one backtrack point: linear in practice, no recursion. */
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p == '?' || *p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}
