/* ListObjectsV2 answers parsed with expat straight into the data server's JSON. A small table
 * says which element under which parent is which field; everything else is only counted
 * against the bounds (depth, text between tags, entries) and otherwise ignored. */
#include "s3_xml.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <expat.h>

#define NS_SEP '|'
#define JSON_SAFE_INT_MAX 9007199254740991LL /* 2^53 - 1: the largest a JavaScript client reads exactly */

/* The elements that hold fields. */
enum container { C_NONE, C_ROOT, C_CONTENTS, C_COMMON_PREFIXES };

enum value_kind {
	V_TEXT,  /* any text */
	V_KEY,   /* a key or prefix: URL-decoded and checked once the whole document is read */
	V_COUNT, /* a whole number */
	V_BOOL,  /* "true" or "false" */
};

struct field {
	enum container parent;
	const char *xml_name;
	const char *json_name; /* where the value waits until the document or entry is complete */
	enum value_kind kind;
};

static const struct field fields[] = {
	{ C_ROOT, "Name", "bucket", V_TEXT },
	{ C_ROOT, "Prefix", "prefix", V_KEY },
	{ C_ROOT, "KeyCount", "key_count", V_COUNT },
	{ C_ROOT, "MaxKeys", "max_keys", V_COUNT },
	{ C_ROOT, "IsTruncated", "truncated", V_BOOL },
	{ C_ROOT, "NextContinuationToken", "next_cursor", V_TEXT },
	{ C_ROOT, "EncodingType", "encoding_type", V_TEXT },
	{ C_CONTENTS, "Key", "key", V_KEY },
	{ C_CONTENTS, "Size", "size", V_COUNT },
	{ C_CONTENTS, "LastModified", "last_modified", V_TEXT },
	{ C_CONTENTS, "ETag", "etag", V_TEXT },
	{ C_CONTENTS, "StorageClass", "storage_class", V_TEXT },
	{ C_COMMON_PREFIXES, "Prefix", "prefix", V_KEY },
};
#define N_FIELDS ((int)(sizeof fields / sizeof fields[0]))

/* One open element: a container, a field (index into fields[]), or neither. */
struct frame {
	enum container container;
	int field;
};

struct list_parse {
	XML_Parser parser; /* NULL once parsing is over */
	struct frame stack[S3_XML_DEPTH_MAX];
	int depth;
	char text[S3_XML_TEXT_MAX]; /* text since the last tag */
	size_t text_len;
	json_t *top;      /* ListBucketResult's fields, as found */
	json_t *entry;    /* the open Contents or CommonPrefixes: its fields */
	json_t *objects;  /* finished Contents, in output form */
	json_t *prefixes; /* finished CommonPrefixes' raw prefixes */
	size_t entries;
	bool failed;
	char *err;
	size_t err_cap;
};

/* ---- errors ---- */

/* Keeps the first error only: later ones are usually its consequences. */
static void __attribute__((format(printf, 2, 3))) fail(struct list_parse *s, const char *fmt, ...)
{
	if (s->failed)
		return;
	s->failed = true;
	if (s->err && s->err_cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->err, s->err_cap, fmt, ap);
		va_end(ap);
	}
	if (s->parser)
		XML_StopParser(s->parser, XML_FALSE);
}

static void fail_oom(struct list_parse *s)
{
	fail(s, "out of memory");
}

/* ---- values ---- */

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* S3's encoding-type=url form, as the AWS SDKs undo it: %XX is a byte, '+' a space. The
 * output is never longer than the input. Returns the decoded length, or -1 for a bad escape. */
static long url_decode(const char *in, size_t len, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '+') {
			out[n++] = ' ';
		} else if (in[i] == '%') {
			if (len - i < 3 || hex_value(in[i + 1]) < 0 || hex_value(in[i + 2]) < 0)
				return -1;
			out[n++] = (char)(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
			i += 2;
		} else {
			out[n++] = in[i];
		}
	}
	return (long)n;
}

/* Plain decimal digits, no sign, no blanks: S3 writes nothing else. */
static bool parse_count(const char *text, size_t len, long long *out)
{
	if (len == 0 || len > 16)
		return false;
	long long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		v = v * 10 + (text[i] - '0');
	}
	if (v > JSON_SAFE_INT_MAX)
		return false;
	*out = v;
	return true;
}

static json_t *field_value(struct list_parse *s, const struct field *f)
{
	long long count;
	switch (f->kind) {
	case V_TEXT:
	case V_KEY:
		return json_stringn(s->text, s->text_len);
	case V_COUNT:
		if (!parse_count(s->text, s->text_len, &count)) {
			fail(s, "<%s> is not a whole number below 2^53", f->xml_name);
			return NULL;
		}
		return json_integer(count);
	case V_BOOL:
		if (s->text_len == 4 && memcmp(s->text, "true", 4) == 0)
			return json_true();
		if (s->text_len == 5 && memcmp(s->text, "false", 5) == 0)
			return json_false();
		fail(s, "<%s> is neither true nor false", f->xml_name);
		return NULL;
	}
	return NULL;
}

static void store_field(struct list_parse *s, const struct field *f)
{
	json_t *target = f->parent == C_ROOT ? s->top : s->entry;
	if (json_object_get(target, f->json_name)) { /* a second one would be ambiguous */
		fail(s, "<%s> appears twice", f->xml_name);
		return;
	}
	json_t *v = field_value(s, f);
	if (!v) {
		fail_oom(s); /* no-op when field_value already said what was wrong */
		return;
	}
	if (json_object_set_new(target, f->json_name, v) != 0)
		fail_oom(s);
}

/* ---- entries ---- */

static enum container open_entry(struct list_parse *s, const char *name)
{
	enum container c;
	if (strcmp(name, "Contents") == 0)
		c = C_CONTENTS;
	else if (strcmp(name, "CommonPrefixes") == 0)
		c = C_COMMON_PREFIXES;
	else
		return C_NONE;
	if (s->entries == S3_LIST_ENTRIES_MAX) {
		fail(s, "more than %d objects and common prefixes", S3_LIST_ENTRIES_MAX);
		return C_NONE;
	}
	s->entries++;
	s->entry = json_object();
	if (!s->entry)
		fail_oom(s);
	return c;
}

/* A field's value, or JSON null when S3 left it out; a new reference either way. */
static json_t *value_or_null(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	return v ? json_incref(v) : json_null();
}

static void close_object(struct list_parse *s)
{
	json_t *e = s->entry;
	if (!json_object_get(e, "key")) {
		fail(s, "object %zu has no <Key>", s->entries);
		return;
	}
	if (!json_object_get(e, "size")) {
		fail(s, "object %zu has no <Size>", s->entries);
		return;
	}
	/* Rebuilt in a fixed order, with every name present: the shape clients see is stable. */
	json_t *obj = json_object();
	static const char *const names[] = { "key", "size", "last_modified", "etag", "storage_class" };
	for (size_t i = 0; obj && i < sizeof names / sizeof names[0]; i++)
		if (json_object_set_new(obj, names[i], value_or_null(e, names[i])) != 0) {
			json_decref(obj);
			obj = NULL;
		}
	if (!obj || json_array_append_new(s->objects, obj) != 0)
		fail_oom(s);
	json_decref(s->entry);
	s->entry = NULL;
}

static void close_common_prefix(struct list_parse *s)
{
	json_t *prefix = json_object_get(s->entry, "prefix");
	if (!prefix) {
		fail(s, "common prefix %zu has no <Prefix>", s->entries);
		return;
	}
	if (json_array_append(s->prefixes, prefix) != 0)
		fail_oom(s);
	json_decref(s->entry);
	s->entry = NULL;
}

/* ---- expat handlers ---- */

static int find_field(enum container parent, const char *name)
{
	for (int i = 0; i < N_FIELDS; i++)
		if (fields[i].parent == parent && strcmp(fields[i].xml_name, name) == 0)
			return i;
	return -1;
}

/* With XML_ParserCreateNS names arrive as "uri|local"; S3's namespace is not checked, so
 * emulators that leave it out (or use another) work the same. */
static const char *local_name(const XML_Char *name)
{
	const char *sep = strrchr(name, NS_SEP);
	return sep ? sep + 1 : name;
}

static void XMLCALL on_start(void *ud, const XML_Char *qname, const XML_Char **attrs)
{
	(void)attrs;
	struct list_parse *s = ud;
	if (s->failed) /* expat may still call after XML_StopParser */
		return;
	if (s->depth == S3_XML_DEPTH_MAX) {
		fail(s, "elements nested deeper than %d", S3_XML_DEPTH_MAX);
		return;
	}
	const char *name = local_name(qname);
	struct frame f = { .container = C_NONE, .field = -1 };
	if (s->depth == 0) {
		if (strcmp(name, "ListBucketResult") != 0) {
			fail(s, "the root element is not <ListBucketResult>");
			return;
		}
		f.container = C_ROOT;
	} else {
		const struct frame *parent = &s->stack[s->depth - 1];
		if (parent->field >= 0) {
			fail(s, "<%s> holds an element where text was expected", fields[parent->field].xml_name);
			return;
		}
		f.field = find_field(parent->container, name);
		if (f.field < 0 && parent->container == C_ROOT)
			f.container = open_entry(s, name);
		if (s->failed)
			return;
	}
	s->stack[s->depth++] = f;
	s->text_len = 0;
}

static void XMLCALL on_end(void *ud, const XML_Char *qname)
{
	(void)qname;
	struct list_parse *s = ud;
	if (s->failed || s->depth == 0)
		return;
	struct frame f = s->stack[--s->depth];
	if (f.field >= 0)
		store_field(s, &fields[f.field]);
	else if (f.container == C_CONTENTS)
		close_object(s);
	else if (f.container == C_COMMON_PREFIXES)
		close_common_prefix(s);
	s->text_len = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *text, int len)
{
	struct list_parse *s = ud;
	if (s->failed || len <= 0)
		return;
	/* Counted for every element, known or not, so no run of text is unbounded. */
	if ((size_t)len > sizeof s->text - s->text_len) {
		fail(s, "more than %d bytes of text in one element", S3_XML_TEXT_MAX);
		return;
	}
	memcpy(s->text + s->text_len, text, (size_t)len);
	s->text_len += (size_t)len;
}

/* S3 never sends a DTD, and DTDs are where entity expansion attacks live: refuse the
 * document at the first sign of one. The entity handlers below cannot be reached once the
 * DOCTYPE is refused; they stay as a second line should that ever change. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	fail(ud, "a DOCTYPE declaration is not allowed");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_parameter,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
	(void)name;
	(void)is_parameter;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	fail(ud, "an entity declaration is not allowed");
}

static int XMLCALL on_external_entity(XML_Parser parser, const XML_Char *context,
                                      const XML_Char *base, const XML_Char *sysid,
                                      const XML_Char *pubid)
{
	(void)parser;
	(void)context;
	(void)base;
	(void)sysid;
	(void)pubid;
	return XML_STATUS_ERROR;
}

static int run_expat(struct list_parse *s, const char *body, size_t len)
{
	s->parser = XML_ParserCreateNS(NULL, NS_SEP);
	if (!s->parser) {
		fail_oom(s);
		return -1;
	}
	XML_SetUserData(s->parser, s);
	XML_SetElementHandler(s->parser, on_start, on_end);
	XML_SetCharacterDataHandler(s->parser, on_text);
	XML_SetStartDoctypeDeclHandler(s->parser, on_doctype);
	XML_SetEntityDeclHandler(s->parser, on_entity_decl);
	XML_SetExternalEntityRefHandler(s->parser, on_external_entity);
	XML_SetParamEntityParsing(s->parser, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(s->parser, body, (int)len, XML_TRUE) != XML_STATUS_OK && !s->failed) {
		unsigned long long line = XML_GetCurrentLineNumber(s->parser);
		unsigned long long column = XML_GetCurrentColumnNumber(s->parser) + 1;
		const char *why = XML_ErrorString(XML_GetErrorCode(s->parser));
		XML_ParserFree(s->parser);
		s->parser = NULL;
		fail(s, "not well-formed XML at line %llu column %llu: %s", line, column,
		     why ? why : "unknown error");
		return -1;
	}
	XML_ParserFree(s->parser);
	s->parser = NULL;
	return s->failed ? -1 : 0;
}

/* ---- the finished document ---- */

/* Undoes encoding-type=url when it was used, then holds a key or prefix to S3's rules:
 * at most S3_KEY_MAX bytes of UTF-8 without NUL (C callers read keys as C strings), and not
 * empty unless `may_be_empty`. `index` counts entries from 1; 0 names the request prefix.
 * Returns a new reference, or NULL after fail(). */
static json_t *final_key(struct list_parse *s, json_t *raw, bool url, bool may_be_empty,
                         const char *what, size_t index)
{
	char label[32]; /* "object 12", or just "request prefix" */
	if (index)
		snprintf(label, sizeof label, "%s %zu", what, index);
	else
		snprintf(label, sizeof label, "%s", what);
	const char *text = json_string_value(raw);
	size_t len = json_string_length(raw);
	char decoded[S3_XML_TEXT_MAX]; /* raw text is never longer, and decoding only shrinks it */
	if (url) {
		long n = url_decode(text, len, decoded);
		if (n < 0) {
			fail(s, "%s has a malformed %%-escape", label);
			return NULL;
		}
		text = decoded;
		len = (size_t)n;
		if (!utf8_valid((const unsigned char *)text, len)) {
			fail(s, "%s is not UTF-8 once URL-decoded", label);
			return NULL;
		}
	}
	if (len > S3_KEY_MAX) {
		fail(s, "%s is longer than %d bytes", label, S3_KEY_MAX);
		return NULL;
	}
	if (len == 0 && !may_be_empty) {
		fail(s, "%s is empty", label);
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		fail(s, "%s contains a NUL byte", label);
		return NULL;
	}
	json_t *v = url ? json_stringn(text, len) : json_incref(raw);
	if (!v)
		fail_oom(s);
	return v;
}

static int finish_keys(struct list_parse *s, bool url)
{
	size_t i;
	json_t *v;
	json_array_foreach(s->objects, i, v) {
		json_t *key = final_key(s, json_object_get(v, "key"), url, false, "object", i + 1);
		if (!key || json_object_set_new(v, "key", key) != 0)
			goto failed;
	}
	json_array_foreach(s->prefixes, i, v) {
		json_t *prefix = final_key(s, v, url, false, "common prefix", i + 1);
		if (!prefix || json_array_set_new(s->prefixes, i, prefix) != 0)
			goto failed;
	}
	json_t *prefix = json_object_get(s->top, "prefix");
	if (prefix) {
		prefix = final_key(s, prefix, url, true, "request prefix", 0);
		if (!prefix || json_object_set_new(s->top, "prefix", prefix) != 0)
			goto failed;
	}
	return 0;
failed:
	fail_oom(s); /* no-op after final_key's own message */
	return -1;
}

static json_t *finish(struct list_parse *s)
{
	json_t *top = s->top;
	if (!json_object_get(top, "bucket")) {
		fail(s, "<ListBucketResult> has no <Name>");
		return NULL;
	}
	if (!json_object_get(top, "truncated")) {
		fail(s, "<ListBucketResult> has no <IsTruncated>");
		return NULL;
	}
	const char *encoding = json_string_value(json_object_get(top, "encoding_type"));
	if (encoding && strcmp(encoding, "url") != 0) {
		fail(s, "<EncodingType> is not url");
		return NULL;
	}
	if (finish_keys(s, encoding != NULL) != 0)
		return NULL;
	bool truncated = json_is_true(json_object_get(top, "truncated"));
	json_t *cursor = json_object_get(top, "next_cursor");
	/* Without a token a truncated listing cannot be continued: the caller would silently
	 * see only part of the bucket. */
	if (truncated && (!cursor || json_string_length(cursor) == 0)) {
		fail(s, "a truncated listing has no <NextContinuationToken>");
		return NULL;
	}
	json_t *prefix = json_object_get(top, "prefix");
	json_t *out = json_pack("{s:O, s:o, s:o, s:o, s:O, s:O, s:b, s:o}",
	                        "bucket", json_object_get(top, "bucket"),
	                        "prefix", prefix ? json_incref(prefix) : json_string(""),
	                        "key_count", value_or_null(top, "key_count"),
	                        "max_keys", value_or_null(top, "max_keys"),
	                        "objects", s->objects,
	                        "common_prefixes", s->prefixes,
	                        "truncated", truncated,
	                        "next_cursor", truncated ? json_incref(cursor) : json_null());
	if (!out)
		fail_oom(s);
	return out;
}

json_t *s3_list_objects_v2_parse(const char *body, size_t len, char *err, size_t err_cap)
{
	struct list_parse s = { .err = err, .err_cap = err_cap };
	json_t *result = NULL;

	if (err && err_cap)
		err[0] = '\0';
	if (len > S3_XML_BODY_MAX) {
		fail(&s, "the answer is larger than %u bytes", S3_XML_BODY_MAX);
		return NULL;
	}
	s.top = json_object();
	s.objects = json_array();
	s.prefixes = json_array();
	if (!s.top || !s.objects || !s.prefixes)
		fail_oom(&s);
	else if (run_expat(&s, body ? body : "", len) == 0)
		result = finish(&s);
	json_decref(s.top);
	json_decref(s.entry); /* still open when parsing stopped inside an entry */
	json_decref(s.objects);
	json_decref(s.prefixes);
	return result;
}
