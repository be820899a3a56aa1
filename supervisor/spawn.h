/* fork+exec of one child with exactly the fds it should have: 0/1 (stdio link or
 * /dev/null), 2 (its log pipe), 3 (control), 4.. (links and listeners, in order). */
#ifndef MCPGATE_SPAWN_H
#define MCPGATE_SPAWN_H

#include <stddef.h>
#include <sys/types.h>
#include "sandbox.h"

struct spawn_request {
	const char *path;
	char *const *argv;
	char *const *envp;
	int stdio_fd;   /* becomes fd 0 and 1 (an MCP stdio server's link), or -1: /dev/null */
	int stderr_fd;  /* the log pipe's write end */
	int control_fd; /* becomes fd 3, or -1 */
	const int *extra_fds; /* become 4, 5, ... */
	size_t n_extra;
	/* For programs that cannot enter the sandbox themselves (third-party servers): applied
	 * in the child between fork and exec. NULL for our own roles, which do it after HELLO. */
	const struct sandbox_spec *sandbox;
};

/* Returns the child's pid, or -1 with errno set. */
pid_t spawn_child(const struct spawn_request *req);

#endif
