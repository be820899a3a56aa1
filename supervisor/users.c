/* Looks up or creates the system user a role runs as. useradd is used rather than writing
 * /etc/passwd ourselves: it takes the locks and keeps shadow and group files consistent. */
#include "users.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int lookup(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	if (getpwnam_r(name, &pw, buf, sizeof buf, &found) != 0 || !found)
		return -1;
	*uid = found->pw_uid;
	*gid = found->pw_gid;
	return 0;
}

int role_user_ensure(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	if (lookup(name, uid, gid) == 0)
		goto check;
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork for useradd: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char *const argv[] = { "useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			"--comment", "mcpgate role", (char *)name, NULL };
		char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
		execve("/usr/sbin/useradd", argv, envp);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (lookup(name, uid, gid) != 0) {
		snprintf(err, errlen, "user '%s' does not exist and useradd failed (status %d)",
		         name, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
check:
	if (*uid == 0 || *gid == 0) {
		snprintf(err, errlen, "user '%s' is privileged (uid %u gid %u); refusing", name,
		         (unsigned)*uid, (unsigned)*gid);
		return -1;
	}
	return 0;
}
