/* The one sandbox loader. Applied by every child after it has opened what it needs, in
 * this order: Landlock (best effort by the kernel's ABI) -> role user (setgroups,
 * setresgid, setresuid) -> every capability dropped (libcap) -> rlimits ->
 * PR_SET_NO_NEW_PRIVS -> the role's seccomp allowlist (policy.h). The capability bounding
 * and ambient sets are cleared just before the user switch, while CAP_SETPCAP is still held.
 * Landlock binds only the calling thread: apply before any thread is started. */
#ifndef MCPGATE_SANDBOX_H
#define MCPGATE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

struct sandbox_limits {
	rlim_t nofile; /* 0 = leave as is */
	rlim_t nproc;
	rlim_t as_bytes;
	rlim_t fsize;
	bool no_core;  /* RLIMIT_CORE = 0: no core file may hold a secret */
};

struct sandbox_spec {
	const char *role;        /* for messages: "edge", "server:data" */
	const char *groups_text; /* policy/groups.policy: the named syscall groups */
	const char *policy_text; /* policy/<role>.policy */
	const char *policy_name; /* for messages: "server.policy"; NULL = "<role>.policy" */
	bool switch_user;        /* only when running as root */
	uid_t uid;
	gid_t gid;
	/* Landlock: NULL-terminated path lists; all NULL = no filesystem access at all.
	 * Paths that do not exist are skipped. */
	const char *const *fs_read;      /* read files and list directories */
	const char *const *fs_read_exec; /* read and execute (interpreters, libraries) */
	const char *const *fs_write;     /* read, write, create */
	/* Landlock ABI 4+: no role may bind a TCP port (edge is handed its bound socket); TCP
	 * connect only with allow_tcp_connect (auth: Redis, JWKS; servers: AWS), and then only
	 * to tcp_connect_ports when that 0-terminated list is given. */
	bool allow_tcp_connect;
	const unsigned short *tcp_connect_ports;
	struct sandbox_limits limits;
	bool debug;              /* log the offending syscall's name before dying */
};

/* Returns 0, or -1 with a message in err. A failure must be fatal for the caller: a child
 * never serves unconfined. Landlock missing from the kernel is not a failure (logged). */
int sandbox_apply(const struct sandbox_spec *spec, char *err, size_t errlen);

/* The kernel's Landlock ABI version, 0 if unsupported. */
int sandbox_landlock_abi(void);

#endif
