/* Role users: when the supervisor runs as root, every role runs as its own unprivileged
 * system user, created on first start if the system does not have it yet. */
#ifndef MCPGATE_USERS_H
#define MCPGATE_USERS_H

#include <stddef.h>
#include <sys/types.h>

/* Finds or creates user `name` (and its group). Returns 0, or -1 with a message. */
int role_user_ensure(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen);

#endif
