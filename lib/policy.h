/* Seccomp policies as data. A policy file names syscall groups (defined once in
 * groups.policy) and single syscalls, with a few argument filters; this module parses them
 * and builds the libseccomp filter. Default action: kill the process. */
#ifndef MCPGATE_POLICY_H
#define MCPGATE_POLICY_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

/* Parses `groups_text` and `policy_text` and returns a filter ready to load, or NULL with a
 * message ("edge.policy:12: unknown group 'netwrok'") in err. With debug, violations trap
 * to a handler that logs the syscall's name, then the process dies by SIGSYS as usual. */
scmp_filter_ctx policy_build(const char *groups_text, const char *policy_text,
                             const char *policy_name, bool debug, char *err, size_t errlen);

/* Installs the SIGSYS handler used in debug mode. */
void policy_install_debug_handler(void);

/* True when this build has sanitizers: their runtimes make syscalls of their own (every
 * policy then also gets group `sanitizer` from groups.policy) and reserve terabytes of
 * address space (so RLIMIT_AS cannot be applied). */
bool policy_sanitizer_build(void);

#endif
