/* The one sandbox loader: Landlock, the role's user, no capabilities, rlimits,
 * no_new_privs, then the seccomp filter, each step checked, every failure naming its step. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <linux/securebits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"

/* Debian 12's headers know Landlock ABI 1-2 only; the later rights are fixed kernel ABI. */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)          /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)       /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)      /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)       /* ABI 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

enum { LL_RULE_PATH_BENEATH = 1, LL_RULE_NET_PORT = 2 };

/* The ruleset attribute as of ABI 6. The kernel accepts a larger struct than it knows as
 * long as the fields it does not know are zero, so older kernels take it too. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
};

#define LL_FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define LL_FS_FILE_ONLY (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define LL_FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_FS_READ_EXEC (LL_FS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
/* Create, write, rename and delete ordinary things; never device nodes. */
#define LL_FS_WRITE (LL_FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER)

static int report(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int report(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- Landlock ---- */

static int landlock_abi = -1; /* cached: after seccomp the syscall is no longer allowed */

int sandbox_landlock_abi(void)
{
	if (landlock_abi < 0) {
		long v = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
		landlock_abi = v > 0 ? (int)v : 0;
	}
	return landlock_abi;
}

static uint64_t handled_fs_for(int abi)
{
	uint64_t fs = LL_FS_ABI1;
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return fs;
}

static int add_path_rules(int ruleset, const char *const *paths, uint64_t access,
                          uint64_t handled, char *err, size_t errlen)
{
	for (size_t i = 0; paths && paths[i]; i++) {
		int fd = open(paths[i], O_PATH | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT) {
				log_debug("landlock_path_missing", LOG_STR("path", paths[i]));
				continue;
			}
			return report(err, errlen, "landlock: opening %s: %s", paths[i], strerror(errno));
		}
		struct stat st;
		if (fstat(fd, &st) != 0) {
			int saved = errno;
			close(fd);
			return report(err, errlen, "landlock: stat %s: %s", paths[i], strerror(saved));
		}
		/* A rule on a file may carry only the rights that make sense for a file. */
		struct landlock_path_beneath_attr rule = {
			.allowed_access = access & handled & (S_ISDIR(st.st_mode) ? ~0ULL : LL_FS_FILE_ONLY),
			.parent_fd = fd,
		};
		long rc = rule.allowed_access
			? syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0) : 0;
		int saved = errno;
		close(fd);
		if (rc != 0)
			return report(err, errlen, "landlock: rule for %s: %s", paths[i], strerror(saved));
	}
	return 0;
}

static int add_port_rules(int ruleset, const unsigned short *ports, char *err, size_t errlen)
{
	for (size_t i = 0; ports && ports[i]; i++) {
		struct ll_net_port_attr rule = {
			.allowed_access = LANDLOCK_ACCESS_NET_CONNECT_TCP,
			.port = ports[i],
		};
		if (syscall(__NR_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &rule, 0) != 0)
			return report(err, errlen, "landlock: rule for TCP port %u: %s", ports[i],
			              strerror(errno));
	}
	return 0;
}

static bool have_effective(cap_value_t cap)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t value = CAP_CLEAR;
	if (caps) {
		cap_get_flag(caps, cap, CAP_EFFECTIVE, &value);
		cap_free(caps);
	}
	return value == CAP_SET;
}

static int fill_landlock_ruleset(int ruleset, const struct sandbox_spec *spec, uint64_t fs,
                                 char *err, size_t errlen)
{
	if (add_path_rules(ruleset, spec->fs_read, LL_FS_READ, fs, err, errlen) != 0 ||
	    add_path_rules(ruleset, spec->fs_read_exec, LL_FS_READ_EXEC, fs, err, errlen) != 0 ||
	    add_path_rules(ruleset, spec->fs_write, LL_FS_WRITE, fs, err, errlen) != 0)
		return -1;
	if (sandbox_landlock_abi() >= 4 && spec->allow_tcp_connect && spec->tcp_connect_ports)
		return add_port_rules(ruleset, spec->tcp_connect_ports, err, errlen);
	return 0;
}

static int apply_landlock(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	int abi = sandbox_landlock_abi();
	if (abi == 0) {
		log_warn("landlock_unavailable", LOG_STR("role", spec->role),
		         LOG_STR("effect", "filesystem and TCP limits rest on seccomp and the uid alone"));
		return 0;
	}
	struct ll_ruleset_attr attr = { .handled_access_fs = handled_fs_for(abi) };
	if (abi >= 4) {
		/* Handling a right with no rule for it denies it. */
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP;
		if (!spec->allow_tcp_connect || spec->tcp_connect_ports)
			attr.handled_access_net |= LANDLOCK_ACCESS_NET_CONNECT_TCP;
	}
	if (abi >= 6)
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
	int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (ruleset < 0)
		return report(err, errlen, "landlock: create_ruleset (ABI %d): %s", abi, strerror(errno));
	int rc = fill_landlock_ruleset(ruleset, spec, attr.handled_access_fs, err, errlen);
	/* Without CAP_SYS_ADMIN the kernel takes a Landlock domain only under no_new_privs;
	 * setting it this early changes nothing else (it is set again below anyway). */
	if (rc == 0 && !have_effective(CAP_SYS_ADMIN) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		rc = report(err, errlen, "landlock: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (rc == 0 && syscall(__NR_landlock_restrict_self, ruleset, 0) != 0)
		rc = report(err, errlen, "landlock: restrict_self: %s", strerror(errno));
	close(ruleset);
	return rc;
}

/* ---- Capabilities and user ---- */

/* Needs CAP_SETPCAP, so it runs before the user switch takes every capability away. An
 * unprivileged caller cannot lower its bounding set, but no_new_privs keeps an exec from
 * gaining anything from it. */
static int drop_bounding_and_ambient(char *err, size_t errlen)
{
	if (cap_reset_ambient() != 0)
		return report(err, errlen, "capabilities: clearing the ambient set: %s", strerror(errno));
	if (!have_effective(CAP_SETPCAP))
		return 0;
	for (cap_value_t cap = 0; cap < (cap_value_t)cap_max_bits(); cap++) {
		if (cap_drop_bound(cap) != 0)
			return report(err, errlen, "capabilities: dropping %s from the bounding set: %s",
			              cap_to_name(cap), strerror(errno));
	}
	/* Root stays without capabilities across exec, and nothing may turn that back. */
	unsigned bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
	                SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
	                SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	if (cap_set_secbits(bits) != 0)
		return report(err, errlen, "capabilities: securebits: %s", strerror(errno));
	return 0;
}

static int verify_user(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[2];
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return report(err, errlen, "user: reading ids back: %s", strerror(errno));
	if (ru != spec->uid || eu != spec->uid || su != spec->uid ||
	    rg != spec->gid || eg != spec->gid || sg != spec->gid)
		return report(err, errlen, "user: ids are not %u:%u after the switch",
		              (unsigned)spec->uid, (unsigned)spec->gid);
	int n = getgroups(2, groups);
	if (n != 1 || groups[0] != spec->gid)
		return report(err, errlen, "user: supplementary groups were not replaced");
	/* The switch must be one-way. */
	if (setuid(0) != -1 || setgid(0) != -1)
		return report(err, errlen, "user: could switch back to root");
	return 0;
}

static int switch_user(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	if (!spec->switch_user)
		return 0;
	if (spec->uid == 0 || spec->gid == 0)
		return report(err, errlen, "user: refusing to run %s as uid/gid 0", spec->role);
	if (geteuid() != 0)
		return report(err, errlen, "user: switching to uid %u needs root",
		              (unsigned)spec->uid);
	if (setgroups(1, &spec->gid) != 0)
		return report(err, errlen, "user: setgroups: %s", strerror(errno));
	if (setresgid(spec->gid, spec->gid, spec->gid) != 0)
		return report(err, errlen, "user: setresgid %u: %s", (unsigned)spec->gid,
		              strerror(errno));
	if (setresuid(spec->uid, spec->uid, spec->uid) != 0)
		return report(err, errlen, "user: setresuid %u: %s", (unsigned)spec->uid,
		              strerror(errno));
	return verify_user(spec, err, errlen);
}

static int clear_capabilities(char *err, size_t errlen)
{
	cap_t none = cap_init();
	if (!none)
		return report(err, errlen, "capabilities: cap_init: %s", strerror(errno));
	int rc = cap_set_proc(none);
	int saved = errno;
	cap_t now = rc == 0 ? cap_get_proc() : NULL;
	bool empty = now && cap_compare(now, none) == 0;
	cap_free(now);
	cap_free(none);
	if (rc != 0)
		return report(err, errlen, "capabilities: clearing the sets: %s", strerror(saved));
	if (!empty)
		return report(err, errlen, "capabilities: some remain after clearing");
	return 0;
}

/* ---- Limits and the last steps ---- */

static int set_limit(int resource, const char *name, rlim_t value, char *err, size_t errlen)
{
	struct rlimit rl = { .rlim_cur = value, .rlim_max = value };
	if (setrlimit(resource, &rl) == 0)
		return 0;
	int saved = errno;
	struct rlimit now;
	if (getrlimit(resource, &now) == 0 && now.rlim_max != RLIM_INFINITY && value > now.rlim_max)
		return report(err, errlen, "rlimits: %s=%llu is above the hard limit %llu", name,
		              (unsigned long long)value, (unsigned long long)now.rlim_max);
	return report(err, errlen, "rlimits: %s=%llu: %s", name, (unsigned long long)value,
	              strerror(saved));
}

static int apply_limits(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	const struct sandbox_limits *l = &spec->limits;
	if (l->nofile && set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", l->nofile, err, errlen) != 0)
		return -1;
	if (l->nproc && set_limit(RLIMIT_NPROC, "RLIMIT_NPROC", l->nproc, err, errlen) != 0)
		return -1;
	if (l->fsize && set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", l->fsize, err, errlen) != 0)
		return -1;
	if (l->no_core && set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, err, errlen) != 0)
		return -1;
	if (l->as_bytes && policy_sanitizer_build()) {
		log_warn("rlimit_as_skipped", LOG_STR("role", spec->role),
		         LOG_STR("reason", "sanitizer shadow memory needs terabytes of address space"));
	} else if (l->as_bytes && set_limit(RLIMIT_AS, "RLIMIT_AS", l->as_bytes, err, errlen) != 0) {
		return -1;
	}
	return 0;
}

static int forbid_privileges(char *err, size_t errlen)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return report(err, errlen, "no_new_privs: %s", strerror(errno));
	/* Not dumpable: no core file, no ptrace attach by the same uid, /proc/<pid> owned by
	 * root, so the secrets in this process stay in it. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return report(err, errlen, "dumpable: %s", strerror(errno));
	return 0;
}

static void policy_file_name(const struct sandbox_spec *spec, char *out, size_t cap)
{
	if (spec->policy_name) {
		snprintf(out, cap, "%s", spec->policy_name);
		return;
	}
	/* "server:data" reads server.policy */
	const char *role = spec->role ? spec->role : "policy";
	size_t len = strcspn(role, ":");
	snprintf(out, cap, "%.*s.policy", (int)len, role);
}

static int confine(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	if (apply_landlock(spec, err, errlen) != 0 ||
	    drop_bounding_and_ambient(err, errlen) != 0 ||
	    switch_user(spec, err, errlen) != 0 ||
	    clear_capabilities(err, errlen) != 0 ||
	    apply_limits(spec, err, errlen) != 0 ||
	    forbid_privileges(err, errlen) != 0)
		return -1;
	return 0;
}

int sandbox_apply(const struct sandbox_spec *spec, char *err, size_t errlen)
{
	char name[64], policy_err[400];
	policy_file_name(spec, name, sizeof name);
	/* Built first, while nothing has changed yet, so a bad policy fails early and plainly. */
	scmp_filter_ctx filter = policy_build(spec->groups_text, spec->policy_text, name,
	                                      spec->debug, policy_err, sizeof policy_err);
	if (!filter)
		return report(err, errlen, "seccomp policy: %s", policy_err);
	int rc = confine(spec, err, errlen);
	if (rc == 0) {
		if (spec->debug)
			policy_install_debug_handler();
		int load = seccomp_load(filter);
		if (load < 0)
			rc = report(err, errlen, "seccomp: loading the filter: %s", strerror(-load));
	}
	seccomp_release(filter);
	return rc;
}
