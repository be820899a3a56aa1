/* Seccomp policies as data: reads groups.policy and one role's policy into a table of
 * per-syscall rules, refuses contradictions, and turns the table into a libseccomp filter.
 *
 * Format (both files; `#` starts a comment; an indented line continues the statement above):
 *   group NAME: SYSCALL...                    groups.policy only
 *   use GROUP...                              allow every syscall of these groups
 *   allow SYSCALL... [if COND [and COND]...]  COND is  ARG in VALUE...  |  ARG lacks FLAG...
 *                                                   |  ARG has FLAG...
 *   errno ERRNAME: SYSCALL...                 fail softly instead of killing (libc probes)
 * A syscall name ending in `?` (or every name of an `allow?` / `errno?` line) may be absent
 * on this architecture and is then skipped; any other name this architecture lacks is an
 * error. ARG is the argument's name from the table below (`domain`, `prot`, ...) or arg0..arg5;
 * VALUE is a number or a constant name (AF_UNIX, PROT_EXEC, ...). Several `allow ... if`
 * lines for one syscall are alternatives. */
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Sanitizer runtimes make syscalls of their own (shadow memory, reports); such builds add
 * the `sanitizer` group from groups.policy to every policy. GCC has no macro for UBSan alone,
 * but the project's sanitizer builds always pair it with ASan. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POLICY_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer) || \
	__has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define POLICY_SANITIZED 1
#endif
#endif
#ifndef POLICY_SANITIZED
#define POLICY_SANITIZED 0
#endif

#define GROUPS_FILE "groups.policy"
#define SANITIZER_GROUP "sanitizer"

enum {
	LINE_MAX_LEN = 1024,     /* one physical line */
	WORD_MAX = 48,           /* one word, with its NUL */
	STATEMENT_MAX_WORDS = 320,
	GROUPS_MAX = 48,
	GROUP_MAX_SYSCALLS = 320,
	RULES_MAX = 512,         /* distinct syscalls in one policy */
	ALTERNATIVES_MAX = 8,    /* `allow X if ...` lines for one syscall */
	CONDITIONS_MAX = 3,      /* `and`-joined conditions in one line */
	VALUES_MAX = 16,         /* values after `in` */
	EXPANDED_RULES_MAX = 64, /* libseccomp rules one alternative may expand to */
	WHERE_MAX = 96,
	DEBUG_NAMES_MAX = 1024,  /* syscall numbers the debug handler can name */
};

struct word {
	char text[WORD_MAX];
	unsigned line;
};

struct statement {
	struct word words[STATEMENT_MAX_WORDS];
	size_t count;
};

enum cond_op { OP_IN, OP_LACKS, OP_HAS };

struct condition {
	unsigned arg;
	enum cond_op op;
	uint64_t values[VALUES_MAX]; /* OP_IN */
	unsigned n_values;
	uint64_t mask;               /* OP_LACKS, OP_HAS */
};

struct alternative {
	struct condition conds[CONDITIONS_MAX];
	unsigned n_conds;
};

enum rule_action { RULE_ALLOW, RULE_ERRNO };

struct rule {
	int nr;
	char name[WORD_MAX];
	enum rule_action action;
	int errno_value;
	bool unconditional;
	struct alternative alts[ALTERNATIVES_MAX];
	unsigned n_alts;
	char where[WHERE_MAX]; /* the line that first set this rule, for conflict messages */
};

struct group_entry {
	int nr;
	char name[WORD_MAX];
	unsigned line;
};

struct group {
	char name[WORD_MAX];
	unsigned line;
	struct group_entry entries[GROUP_MAX_SYSCALLS];
	unsigned n_entries;
};

struct builder {
	const char *file; /* the file being read, for messages */
	char *err;
	size_t errlen;
	struct statement statement;
	struct group groups[GROUPS_MAX];
	unsigned n_groups;
	struct rule rules[RULES_MAX];
	unsigned n_rules;
};

struct named_value {
	const char *name;
	uint64_t value;
};

#define NV(x) { #x, (uint64_t)(x) }
/* The constants a policy may name. Only what argument filters plausibly need. */
static const struct named_value constants[] = {
	NV(AF_UNIX), NV(AF_LOCAL), NV(AF_INET), NV(AF_INET6), NV(AF_NETLINK),
	NV(SOCK_STREAM), NV(SOCK_DGRAM), NV(SOCK_NONBLOCK), NV(SOCK_CLOEXEC),
	NV(PROT_NONE), NV(PROT_READ), NV(PROT_WRITE), NV(PROT_EXEC),
	NV(MAP_SHARED), NV(MAP_PRIVATE), NV(MAP_ANONYMOUS), NV(MAP_FIXED),
	NV(SOL_SOCKET), NV(IPPROTO_IP), NV(IPPROTO_IPV6), NV(IPPROTO_TCP), NV(IPPROTO_UDP),
	NV(SO_REUSEADDR), NV(SO_KEEPALIVE), NV(SO_SNDBUF), NV(SO_RCVBUF), NV(SO_LINGER),
	NV(SO_ERROR), NV(SO_SNDTIMEO), NV(SO_RCVTIMEO), NV(SO_PASSCRED), NV(SO_PEERCRED),
	NV(TCP_NODELAY), NV(TCP_KEEPIDLE), NV(TCP_KEEPINTVL), NV(TCP_KEEPCNT),
	NV(TCP_USER_TIMEOUT), NV(TCP_FASTOPEN_CONNECT), NV(IP_RECVERR), NV(IPV6_RECVERR),
	NV(IPV6_V6ONLY),
	NV(FIONREAD), NV(FIONBIO), NV(FIOCLEX), NV(FIONCLEX), NV(TCGETS), NV(TIOCGWINSZ),
	NV(CLONE_VM), NV(CLONE_FS), NV(CLONE_FILES), NV(CLONE_SIGHAND), NV(CLONE_THREAD),
	NV(CLONE_VFORK), NV(CLONE_NEWNS), NV(CLONE_NEWUSER), NV(CLONE_NEWPID), NV(CLONE_NEWNET),
	NV(CLONE_NEWUTS), NV(CLONE_NEWIPC), NV(CLONE_NEWCGROUP),
	NV(SIGABRT), NV(SIGSYS), NV(SIGTERM), NV(SIGKILL), NV(SIGINT), NV(SIGHUP),
	NV(SIGUSR1), NV(SIGUSR2), NV(SIGCHLD), NV(SIGURG), NV(SIGPROF),
	NV(PR_SET_NAME), NV(PR_GET_NAME), NV(PR_SET_PDEATHSIG), NV(PR_GET_DUMPABLE),
	NV(PR_SET_VMA), NV(PR_CAPBSET_READ),
};
#undef NV

static const struct named_value errno_names[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EACCES", EACCES }, { "EINVAL", EINVAL },
	{ "ENOSYS", ENOSYS }, { "ENOTTY", ENOTTY }, { "EAFNOSUPPORT", EAFNOSUPPORT },
	{ "EOPNOTSUPP", EOPNOTSUPP }, { "ENOMEM", ENOMEM }, { "EAGAIN", EAGAIN },
};

/* Argument names for the syscalls that argument filters are written for; any syscall also
 * accepts arg0..arg5. */
static const struct {
	const char *syscall;
	const char *args[6];
} argument_names[] = {
	{ "socket", { "domain", "type", "protocol" } },
	{ "socketpair", { "domain", "type", "protocol" } },
	{ "mmap", { "addr", "length", "prot", "flags", "fd", "offset" } },
	{ "mprotect", { "addr", "length", "prot" } },
	{ "pkey_mprotect", { "addr", "length", "prot", "pkey" } },
	{ "ioctl", { "fd", "request" } },
	{ "clone", { "flags" } },
	{ "setsockopt", { "fd", "level", "optname" } },
	{ "getsockopt", { "fd", "level", "optname" } },
	{ "tgkill", { "tgid", "tid", "sig" } },
	{ "tkill", { "tid", "sig" } },
	{ "kill", { "pid", "sig" } },
	{ "prctl", { "option" } },
	{ "fcntl", { "fd", "cmd" } },
	{ "madvise", { "addr", "length", "advice" } },
	{ "personality", { "persona" } },
};

static int fail(struct builder *b, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct builder *b, unsigned line, const char *fmt, ...)
{
	int n = line ? snprintf(b->err, b->errlen, "%s:%u: ", b->file, line)
	             : snprintf(b->err, b->errlen, "%s: ", b->file);
	if (n < 0 || (size_t)n >= b->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static const struct named_value *find_named(const struct named_value *table, size_t n,
                                            const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	}
	return NULL;
}

/* ---- Words and statements ---- */

static bool is_word_byte(unsigned char c)
{
	return c > ' ' && c < 0x7f;
}

/* Splits one physical line (already cut at '#') into words appended to the statement. */
static int add_words(struct builder *b, const char *s, size_t len, unsigned line)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r') {
			i++;
			continue;
		}
		if (!is_word_byte(c))
			return fail(b, line, "unexpected byte 0x%02x", c);
		size_t start = i;
		while (i < len && is_word_byte((unsigned char)s[i]))
			i++;
		if (i - start >= WORD_MAX)
			return fail(b, line, "word '%.20s...' is too long", s + start);
		if (b->statement.count == STATEMENT_MAX_WORDS)
			return fail(b, line, "statement has more than %d words; split it",
			            STATEMENT_MAX_WORDS);
		struct word *w = &b->statement.words[b->statement.count++];
		memcpy(w->text, s + start, i - start);
		w->text[i - start] = '\0';
		w->line = line;
	}
	return 0;
}

typedef int (*statement_fn)(struct builder *b, const struct statement *st);

/* Feeds `text` to `handle` one statement at a time: a line, plus the indented lines after it. */
static int for_each_statement(struct builder *b, const char *text, statement_fn handle)
{
	unsigned line = 0;
	const char *p = text;
	b->statement.count = 0;
	while (*p) {
		line++;
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > LINE_MAX_LEN)
			return fail(b, line, "line longer than %d bytes", LINE_MAX_LEN);
		const char *hash = memchr(p, '#', len);
		size_t used = hash ? (size_t)(hash - p) : len;
		bool indented = used > 0 && (p[0] == ' ' || p[0] == '\t');
		size_t before = b->statement.count;
		if (!indented && before > 0) {
			/* Only a line with words ends the statement: comments may sit inside one. */
			size_t k = 0;
			while (k < used && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
				k++;
			if (k < used) {
				if (handle(b, &b->statement) != 0)
					return -1;
				b->statement.count = 0;
			}
		}
		before = b->statement.count;
		if (add_words(b, p, used, line) != 0)
			return -1;
		if (indented && before == 0 && b->statement.count > 0)
			return fail(b, line, "indented line continues no statement");
		p = end ? end + 1 : p + len;
	}
	if (b->statement.count > 0)
		return handle(b, &b->statement);
	return 0;
}

/* ---- Syscall names ---- */

static bool valid_identifier(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	}
	return true;
}

/* Resolves "name" or "name?" for the native architecture. Returns the number, or -1 with
 * *skip set when an optional name is absent here, or -1 with an error. */
static int resolve_syscall(struct builder *b, const struct word *w, bool all_optional,
                           char *name, bool *skip)
{
	*skip = false;
	size_t len = strlen(w->text);
	bool optional = all_optional;
	if (len > 0 && w->text[len - 1] == '?') {
		optional = true;
		len--;
	}
	memcpy(name, w->text, len);
	name[len] = '\0';
	if (!valid_identifier(name) || strchr(name, '-'))
		return fail(b, w->line, "'%s' is not a syscall name", w->text);
	int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name);
	if (nr == __NR_SCMP_ERROR) {
		/* Even an optional name must be one libseccomp knows: that catches typos. */
		return fail(b, w->line, "unknown syscall '%s'", name);
	}
	if (nr < 0) {
		if (optional) {
			*skip = true;
			return -1;
		}
		return fail(b, w->line,
		            "syscall '%s' does not exist on this architecture (write '%s?' if that is fine)",
		            name, name);
	}
	return nr;
}

/* ---- The rule table ---- */

static struct rule *rule_for(struct builder *b, int nr, const char *name, const char *where,
                             unsigned line)
{
	for (unsigned i = 0; i < b->n_rules; i++) {
		if (b->rules[i].nr == nr)
			return &b->rules[i];
	}
	if (b->n_rules == RULES_MAX) {
		fail(b, line, "more than %d distinct syscalls", RULES_MAX);
		return NULL;
	}
	struct rule *r = &b->rules[b->n_rules++];
	memset(r, 0, sizeof *r);
	r->nr = nr;
	r->action = RULE_ALLOW;
	snprintf(r->name, sizeof r->name, "%s", name);
	snprintf(r->where, sizeof r->where, "%s", where);
	return r;
}

static bool rule_is_new(const struct rule *r)
{
	return !r->unconditional && r->n_alts == 0 && r->action == RULE_ALLOW;
}

/* alt == NULL: allow whatever the arguments. */
static int add_allow(struct builder *b, int nr, const char *name, const struct alternative *alt,
                     const char *where, unsigned line)
{
	struct rule *r = rule_for(b, nr, name, where, line);
	if (!r)
		return -1;
	if (r->action == RULE_ERRNO)
		return fail(b, line, "'%s' already fails with an errno (%s); it cannot also be allowed",
		            name, r->where);
	if (!alt) {
		if (r->n_alts > 0)
			return fail(b, line,
			            "'%s' is restricted by its arguments at %s; allowing it outright here would undo that",
			            name, r->where);
		r->unconditional = true;
		return 0;
	}
	if (r->unconditional)
		return fail(b, line,
		            "'%s' is already allowed outright (%s), so this condition would not restrict it",
		            name, r->where);
	if (r->n_alts == ALTERNATIVES_MAX)
		return fail(b, line, "more than %d conditional rules for '%s'", ALTERNATIVES_MAX, name);
	if (r->n_alts == 0)
		snprintf(r->where, sizeof r->where, "%s", where);
	r->alts[r->n_alts++] = *alt;
	return 0;
}

static int add_errno(struct builder *b, int nr, const char *name, int err_value,
                     const char *where, unsigned line)
{
	struct rule *r = rule_for(b, nr, name, where, line);
	if (!r)
		return -1;
	if (r->action == RULE_ERRNO) {
		if (r->errno_value != err_value)
			return fail(b, line, "'%s' already fails with another errno (%s)", name, r->where);
		return 0;
	}
	if (!rule_is_new(r))
		return fail(b, line, "'%s' is allowed at %s; it cannot also fail with an errno",
		            name, r->where);
	r->action = RULE_ERRNO;
	r->errno_value = err_value;
	return 0;
}

/* ---- groups.policy ---- */

static struct group *find_group(struct builder *b, const char *name)
{
	for (unsigned i = 0; i < b->n_groups; i++) {
		if (strcmp(b->groups[i].name, name) == 0)
			return &b->groups[i];
	}
	return NULL;
}

/* Splits "word:" into the name before the colon; returns false when there is no colon. */
static bool take_label(const struct word *w, char *out)
{
	size_t len = strlen(w->text);
	if (len < 2 || w->text[len - 1] != ':')
		return false;
	memcpy(out, w->text, len - 1);
	out[len - 1] = '\0';
	return true;
}

static int group_statement(struct builder *b, const struct statement *st)
{
	const struct word *kw = &st->words[0];
	if (strcmp(kw->text, "group") != 0)
		return fail(b, kw->line, "expected 'group NAME: syscall...', found '%s'", kw->text);
	char name[WORD_MAX];
	if (st->count < 2 || !take_label(&st->words[1], name) || !valid_identifier(name))
		return fail(b, kw->line, "expected 'group NAME: syscall...' (NAME of a-z 0-9 - _, then a colon)");
	if (find_group(b, name))
		return fail(b, kw->line, "group '%s' is defined twice", name);
	if (b->n_groups == GROUPS_MAX)
		return fail(b, kw->line, "more than %d groups", GROUPS_MAX);
	if (st->count < 3)
		return fail(b, kw->line, "group '%s' names no syscalls", name);
	struct group *g = &b->groups[b->n_groups++];
	memset(g, 0, sizeof *g);
	snprintf(g->name, sizeof g->name, "%s", name);
	g->line = kw->line;
	for (size_t i = 2; i < st->count; i++) {
		if (g->n_entries == GROUP_MAX_SYSCALLS)
			return fail(b, st->words[i].line, "group '%s' has too many syscalls", name);
		struct group_entry *e = &g->entries[g->n_entries];
		bool skip;
		e->nr = resolve_syscall(b, &st->words[i], false, e->name, &skip);
		if (skip)
			continue;
		if (e->nr < 0)
			return -1;
		e->line = st->words[i].line;
		g->n_entries++;
	}
	return 0;
}

/* ---- <role>.policy ---- */

/* line: where the group is used, for conflict messages. */
static int use_group(struct builder *b, const struct group *g, unsigned line)
{
	for (unsigned i = 0; i < g->n_entries; i++) {
		const struct group_entry *e = &g->entries[i];
		char where[WHERE_MAX];
		snprintf(where, sizeof where, GROUPS_FILE ":%u (group %s)", e->line, g->name);
		if (add_allow(b, e->nr, e->name, NULL, where, line) != 0)
			return -1;
	}
	return 0;
}

/* Sanitizer builds: the runtime's syscalls are allowed outright, even where the role filters
 * their arguments (their reports ask isatty(), an ioctl); an errno the role chose stays. */
static int use_sanitizer_group(struct builder *b, const struct group *g)
{
	for (unsigned i = 0; i < g->n_entries; i++) {
		const struct group_entry *e = &g->entries[i];
		char where[WHERE_MAX];
		snprintf(where, sizeof where, GROUPS_FILE ":%u (group %s)", e->line, g->name);
		struct rule *r = rule_for(b, e->nr, e->name, where, e->line);
		if (!r)
			return -1;
		if (r->action == RULE_ALLOW) {
			r->unconditional = true;
			r->n_alts = 0;
		}
	}
	return 0;
}

static int use_statement(struct builder *b, const struct statement *st)
{
	if (st->count < 2)
		return fail(b, st->words[0].line, "'use' names no group");
	for (size_t i = 1; i < st->count; i++) {
		const struct word *w = &st->words[i];
		const struct group *g = find_group(b, w->text);
		if (!g)
			return fail(b, w->line, "unknown group '%s'", w->text);
		if (use_group(b, g, w->line) != 0)
			return -1;
	}
	return 0;
}

static int argument_index(struct builder *b, const char *syscall, const struct word *w)
{
	if (strlen(w->text) == 4 && strncmp(w->text, "arg", 3) == 0 && w->text[3] >= '0' &&
	    w->text[3] <= '5')
		return w->text[3] - '0';
	for (size_t i = 0; i < sizeof argument_names / sizeof argument_names[0]; i++) {
		if (strcmp(argument_names[i].syscall, syscall) != 0)
			continue;
		for (int a = 0; a < 6; a++) {
			if (argument_names[i].args[a] && strcmp(argument_names[i].args[a], w->text) == 0)
				return a;
		}
	}
	return fail(b, w->line, "'%s' has no argument named '%s' (use arg0..arg5)", syscall, w->text);
}

static int parse_value(struct builder *b, const struct word *w, uint64_t *out)
{
	const struct named_value *nv =
		find_named(constants, sizeof constants / sizeof constants[0], w->text);
	if (nv) {
		*out = nv->value;
		return 0;
	}
	if (w->text[0] >= '0' && w->text[0] <= '9') {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(w->text, &end, 0);
		if (errno == 0 && *end == '\0') {
			*out = v;
			return 0;
		}
	}
	return fail(b, w->line, "'%s' is neither a number nor a known constant", w->text);
}

/* A condition as written, before its argument name is resolved for each syscall. */
struct written_condition {
	const struct word *arg;
	struct condition cond;
};

/* Parses `ARG OP VALUE... [and ...]` from words[i..]. */
static int parse_conditions(struct builder *b, const struct statement *st, size_t i,
                            struct written_condition *out, unsigned *n_out)
{
	*n_out = 0;
	while (i < st->count) {
		if (*n_out == CONDITIONS_MAX)
			return fail(b, st->words[i].line, "more than %d conditions joined by 'and'",
			            CONDITIONS_MAX);
		struct written_condition *wc = &out[(*n_out)++];
		memset(wc, 0, sizeof *wc);
		if (i + 2 >= st->count)
			return fail(b, st->words[i].line, "expected 'ARG in|lacks|has VALUE...' after '%s'",
			            st->words[i - 1].text);
		wc->arg = &st->words[i];
		const struct word *op = &st->words[i + 1];
		if (strcmp(op->text, "in") == 0)
			wc->cond.op = OP_IN;
		else if (strcmp(op->text, "lacks") == 0)
			wc->cond.op = OP_LACKS;
		else if (strcmp(op->text, "has") == 0)
			wc->cond.op = OP_HAS;
		else
			return fail(b, op->line, "unknown comparison '%s' (in, lacks, has)", op->text);
		for (i += 2; i < st->count && strcmp(st->words[i].text, "and") != 0; i++) {
			uint64_t v = 0;
			if (parse_value(b, &st->words[i], &v) != 0)
				return -1;
			if (wc->cond.op == OP_IN) {
				if (wc->cond.n_values == VALUES_MAX)
					return fail(b, st->words[i].line, "more than %d values after 'in'",
					            VALUES_MAX);
				wc->cond.values[wc->cond.n_values++] = v;
			} else {
				wc->cond.mask |= v;
			}
		}
		if (wc->cond.op == OP_IN ? wc->cond.n_values == 0 : wc->cond.mask == 0)
			return fail(b, op->line, "'%s' needs at least one non-zero value", op->text);
		if (i < st->count) {
			i++; /* "and" */
			if (i == st->count)
				return fail(b, st->words[i - 1].line, "'and' ends the line");
		}
	}
	return 0;
}

static int allow_statement(struct builder *b, const struct statement *st, bool optional)
{
	size_t cond_at = st->count;
	for (size_t i = 1; i < st->count; i++) {
		if (strcmp(st->words[i].text, "if") == 0) {
			cond_at = i;
			break;
		}
	}
	if (cond_at == 1)
		return fail(b, st->words[0].line, "'allow' names no syscall");
	struct written_condition written[CONDITIONS_MAX];
	unsigned n_written = 0;
	if (cond_at < st->count) {
		if (cond_at + 1 == st->count)
			return fail(b, st->words[cond_at].line, "'if' without a condition");
		if (parse_conditions(b, st, cond_at + 1, written, &n_written) != 0)
			return -1;
	}
	for (size_t i = 1; i < cond_at; i++) {
		const struct word *w = &st->words[i];
		char name[WORD_MAX];
		bool skip;
		int nr = resolve_syscall(b, w, optional, name, &skip);
		if (skip)
			continue;
		if (nr < 0)
			return -1;
		char where[WHERE_MAX];
		snprintf(where, sizeof where, "%s:%u", b->file, w->line);
		if (n_written == 0) {
			if (add_allow(b, nr, name, NULL, where, w->line) != 0)
				return -1;
			continue;
		}
		struct alternative alt = { .n_conds = n_written };
		for (unsigned c = 0; c < n_written; c++) {
			int arg = argument_index(b, name, written[c].arg);
			if (arg < 0)
				return -1;
			for (unsigned k = 0; k < c; k++) {
				if (alt.conds[k].arg == (unsigned)arg)
					return fail(b, written[c].arg->line,
					            "two conditions on one argument of '%s'", name);
			}
			alt.conds[c] = written[c].cond;
			alt.conds[c].arg = (unsigned)arg;
		}
		if (add_allow(b, nr, name, &alt, where, w->line) != 0)
			return -1;
	}
	return 0;
}

static int errno_statement(struct builder *b, const struct statement *st, bool optional)
{
	char label[WORD_MAX];
	unsigned line = st->words[0].line;
	if (st->count < 3 || !take_label(&st->words[1], label))
		return fail(b, line, "expected 'errno ENAME: syscall...'");
	const struct named_value *e =
		find_named(errno_names, sizeof errno_names / sizeof errno_names[0], label);
	if (!e)
		return fail(b, st->words[1].line, "unknown errno name '%s'", label);
	for (size_t i = 2; i < st->count; i++) {
		const struct word *w = &st->words[i];
		char name[WORD_MAX];
		bool skip;
		int nr = resolve_syscall(b, w, optional, name, &skip);
		if (skip)
			continue;
		if (nr < 0)
			return -1;
		char where[WHERE_MAX];
		snprintf(where, sizeof where, "%s:%u", b->file, w->line);
		if (add_errno(b, nr, name, (int)e->value, where, w->line) != 0)
			return -1;
	}
	return 0;
}

static int role_statement(struct builder *b, const struct statement *st)
{
	const char *kw = st->words[0].text;
	if (strcmp(kw, "use") == 0)
		return use_statement(b, st);
	if (strcmp(kw, "allow") == 0 || strcmp(kw, "allow?") == 0)
		return allow_statement(b, st, kw[5] == '?');
	if (strcmp(kw, "errno") == 0 || strcmp(kw, "errno?") == 0)
		return errno_statement(b, st, kw[5] == '?');
	if (strcmp(kw, "group") == 0)
		return fail(b, st->words[0].line, "groups are defined in " GROUPS_FILE " only");
	return fail(b, st->words[0].line, "unknown statement '%s' (use, allow, allow?, errno, errno?)",
	            kw);
}

/* ---- Building the filter ---- */

static int add_seccomp_rule(scmp_filter_ctx ctx, uint32_t action, int nr,
                            const struct scmp_arg_cmp *cmps, unsigned n)
{
	return seccomp_rule_add_array(ctx, action, nr, n, n ? cmps : NULL);
}

/* One alternative = the product of its `in` lists, each combination one libseccomp rule
 * whose comparisons are ANDed. */
static int add_alternative(struct builder *b, scmp_filter_ctx ctx, const struct rule *r,
                           const struct alternative *alt)
{
	unsigned total = 1;
	for (unsigned c = 0; c < alt->n_conds; c++) {
		if (alt->conds[c].op == OP_IN)
			total *= alt->conds[c].n_values;
		if (total > EXPANDED_RULES_MAX)
			return fail(b, 0, "the conditions on '%s' (%s) expand to too many rules", r->name,
			            r->where);
	}
	for (unsigned k = 0; k < total; k++) {
		struct scmp_arg_cmp cmps[CONDITIONS_MAX];
		unsigned pick = k;
		for (unsigned c = 0; c < alt->n_conds; c++) {
			const struct condition *cond = &alt->conds[c];
			if (cond->op == OP_IN) {
				uint64_t v = cond->values[pick % cond->n_values];
				pick /= cond->n_values;
				cmps[c] = SCMP_CMP(cond->arg, SCMP_CMP_EQ, v);
			} else {
				uint64_t want = cond->op == OP_HAS ? cond->mask : 0;
				cmps[c] = SCMP_CMP(cond->arg, SCMP_CMP_MASKED_EQ, cond->mask, want);
			}
		}
		int rc = add_seccomp_rule(ctx, SCMP_ACT_ALLOW, r->nr, cmps, alt->n_conds);
		if (rc < 0)
			return fail(b, 0, "libseccomp refused the rule for '%s' (%s): %s", r->name,
			            r->where, strerror(-rc));
	}
	return 0;
}

static int add_rules(struct builder *b, scmp_filter_ctx ctx)
{
	for (unsigned i = 0; i < b->n_rules; i++) {
		const struct rule *r = &b->rules[i];
		int rc = 0;
		if (r->action == RULE_ERRNO) {
			rc = add_seccomp_rule(ctx, SCMP_ACT_ERRNO((uint32_t)r->errno_value), r->nr, NULL, 0);
		} else if (r->unconditional) {
			rc = add_seccomp_rule(ctx, SCMP_ACT_ALLOW, r->nr, NULL, 0);
		} else {
			for (unsigned a = 0; a < r->n_alts; a++) {
				if (add_alternative(b, ctx, r, &r->alts[a]) != 0)
					return -1;
			}
		}
		if (rc < 0)
			return fail(b, 0, "libseccomp refused the rule for '%s' (%s): %s", r->name,
			            r->where, strerror(-rc));
	}
	return 0;
}

static scmp_filter_ctx new_filter(struct builder *b, bool debug)
{
	/* Debug traps instead, so the handler can name the syscall before the process dies. */
	scmp_filter_ctx ctx = seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		fail(b, 0, "seccomp_init failed");
		return NULL;
	}
	/* Only the native architecture is in the filter, so any other (x32, i386 via int 0x80)
	 * hits the bad-arch action. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	                          debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (rc == 0) /* a binary tree keeps long allowlists (thirdparty) cheap; optional */
		(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (rc < 0) {
		fail(b, 0, "seccomp_attr_set failed: %s", strerror(-rc));
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

scmp_filter_ctx policy_build(const char *groups_text, const char *policy_text,
                             const char *policy_name, bool debug, char *err, size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	struct builder *b = calloc(1, sizeof *b);
	if (!b) {
		snprintf(err, errlen, "out of memory building the seccomp policy");
		return NULL;
	}
	b->err = err;
	b->errlen = errlen;
	scmp_filter_ctx ctx = NULL;

	b->file = GROUPS_FILE;
	if (!groups_text) {
		fail(b, 0, "no text");
		goto out;
	}
	if (for_each_statement(b, groups_text, group_statement) != 0)
		goto out;
	b->file = policy_name ? policy_name : "policy";
	if (!policy_text) {
		fail(b, 0, "no text");
		goto out;
	}
	if (for_each_statement(b, policy_text, role_statement) != 0)
		goto out;
	if (POLICY_SANITIZED) {
		const struct group *g = find_group(b, SANITIZER_GROUP);
		if (!g) {
			b->file = GROUPS_FILE;
			fail(b, 0, "this build has sanitizers, which need group '" SANITIZER_GROUP "'");
			goto out;
		}
		if (use_sanitizer_group(b, g) != 0)
			goto out;
	}
	ctx = new_filter(b, debug);
	if (ctx && add_rules(b, ctx) != 0) {
		seccomp_release(ctx);
		ctx = NULL;
	}
out:
	free(b);
	return ctx;
}

bool policy_sanitizer_build(void)
{
	return POLICY_SANITIZED;
}

/* ---- Debug mode: name the syscall, then die by SIGSYS ---- */

/* Filled before the filter is loaded: the handler may not allocate. */
static char *debug_names[DEBUG_NAMES_MAX];

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_uint(char *buf, size_t at, size_t cap, unsigned long long v, int min_digits)
{
	char digits[24];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof digits);
	while (n < min_digits && n < (int)sizeof digits)
		digits[n++] = '0';
	while (n > 0 && at + 1 < cap)
		buf[at++] = digits[--n];
	return at;
}

/* UTC date from days since 1970-01-01, by the usual era arithmetic (no locks, no tz files). */
static void civil_date(long long days, long long *y, unsigned *m, unsigned *d)
{
	days += 719468;
	long long era = (days >= 0 ? days : days - 146096) / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

static size_t put_time(char *buf, size_t at, size_t cap)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return put(buf, at, cap, "1970-01-01T00:00:00.000Z");
	long long days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400, y;
	unsigned m, d;
	civil_date(days, &y, &m, &d);
	at = put_uint(buf, at, cap, (unsigned long long)y, 4);
	at = put(buf, at, cap, "-");
	at = put_uint(buf, at, cap, m, 2);
	at = put(buf, at, cap, "-");
	at = put_uint(buf, at, cap, d, 2);
	at = put(buf, at, cap, "T");
	at = put_uint(buf, at, cap, (unsigned long long)secs / 3600, 2);
	at = put(buf, at, cap, ":");
	at = put_uint(buf, at, cap, (unsigned long long)secs / 60 % 60, 2);
	at = put(buf, at, cap, ":");
	at = put_uint(buf, at, cap, (unsigned long long)secs % 60, 2);
	at = put(buf, at, cap, ".");
	at = put_uint(buf, at, cap, (unsigned long long)ts.tv_nsec / 1000000, 3);
	return put(buf, at, cap, "Z");
}

static void on_sigsys(int sig, siginfo_t *info, void *context)
{
	(void)context;
	int saved_errno = errno;
	char line[512];
	size_t at = 0;
	int nr = info->si_syscall;
	const char *name = nr >= 0 && nr < DEBUG_NAMES_MAX && debug_names[nr] ? debug_names[nr]
	                                                                      : "unknown";
	at = put(line, at, sizeof line, "{\"time\":\"");
	at = put_time(line, at, sizeof line);
	at = put(line, at, sizeof line, "\",\"level\":\"fatal\",\"process\":\"");
	/* Process and syscall names are plain identifiers; nothing here needs escaping. */
	at = put(line, at, sizeof line, log_process());
	at = put(line, at, sizeof line, "\",\"event\":\"seccomp_violation\",\"syscall\":\"");
	at = put(line, at, sizeof line, name);
	at = put(line, at, sizeof line, "\",\"nr\":");
	at = put_uint(line, at, sizeof line, (unsigned)nr, 1);
	at = put(line, at, sizeof line, "}\n");
	if (write(STDERR_FILENO, line, at) < 0) {
		/* nothing more to report to */
	}
	errno = saved_errno;
	/* Die by SIGSYS, so the supervisor sees the same death as without debug. SIGSYS is
	 * blocked inside this handler; if any call below is not allowed by the policy it traps
	 * again, and the kernel then forces SIGSYS's default action on a blocked SIGSYS. If all
	 * are allowed, the default action is restored, SIGSYS unblocked and sent to this thread. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	syscall(SYS_tgkill, getpid(), gettid(), sig);
	/* Not reached: the signal above is fatal. */
	_exit(128 + sig);
}

void policy_install_debug_handler(void)
{
	for (int nr = 0; nr < DEBUG_NAMES_MAX; nr++) {
		if (!debug_names[nr])
			debug_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	}
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		log_warn("seccomp_debug_handler_failed", LOG_STR("error", strerror(errno)));
}
