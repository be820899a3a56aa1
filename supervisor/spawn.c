/* Starting a child: the fd layout is arranged in the forked child so the supervisor's own
 * table is untouched, every other descriptor is closed, and each child gets its own process
 * group so a terminal's Ctrl-C reaches only the supervisor, which then drains in order. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

#define SPAWN_MAX_FDS 256

static void child_fail(int code, const char *step)
{
	char line[256];
	int n = snprintf(line, sizeof line,
		"{\"level\":\"fatal\",\"event\":\"spawn_failed\",\"step\":\"%s\",\"error\":\"%s\"}\n",
		step, strerror(errno));
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nothing left to report to */
	}
	_exit(code);
}

static void arrange_fds(const struct spawn_request *req)
{
	int sources[SPAWN_MAX_FDS];
	size_t n = 4 + req->n_extra;
	if (n > SPAWN_MAX_FDS) {
		errno = EMFILE;
		child_fail(EXIT_SYSCALL, "too_many_fds");
	}
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		child_fail(EXIT_SYSCALL, "open_dev_null");
	sources[0] = req->stdio_fd >= 0 ? req->stdio_fd : devnull;
	sources[1] = req->stdio_fd >= 0 ? req->stdio_fd : devnull;
	sources[2] = req->stderr_fd >= 0 ? req->stderr_fd : devnull;
	sources[3] = req->control_fd >= 0 ? req->control_fd : devnull;
	for (size_t i = 0; i < req->n_extra; i++)
		sources[4 + i] = req->extra_fds[i];
	/* Move everything above the target range first, so no dup2 clobbers a source. */
	int base = (int)n + 16;
	for (size_t i = 0; i < n; i++) {
		int moved = fcntl(sources[i], F_DUPFD_CLOEXEC, base);
		if (moved < 0)
			child_fail(EXIT_SYSCALL, "dup_high");
		sources[i] = moved;
	}
	for (size_t i = 0; i < n; i++) {
		if (dup2(sources[i], (int)i) < 0) /* dup2 clears FD_CLOEXEC on the target */
			child_fail(EXIT_SYSCALL, "dup2");
	}
	if (req->control_fd < 0)
		close(3);
	if (close_range((unsigned)n, ~0U, 0) != 0)
		child_fail(EXIT_SYSCALL, "close_range");
}

pid_t spawn_child(const struct spawn_request *req)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;

	/* Child. The supervisor is single-threaded, so everything here is safe after fork. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (setpgid(0, 0) != 0)
		child_fail(EXIT_SYSCALL, "setpgid");
	arrange_fds(req);
	if (req->sandbox) {
		char err[512];
		if (sandbox_apply(req->sandbox, err, sizeof err) != 0) {
			errno = EPERM;
			char line[700];
			int len = snprintf(line, sizeof line,
				"{\"level\":\"fatal\",\"event\":\"sandbox_failed\",\"reason\":\"%s\"}\n", err);
			if (len > 0 && write(STDERR_FILENO, line, (size_t)len) < 0) {
				/* nothing left to report to */
			}
			_exit(EXIT_SYSCALL);
		}
	}
	execve(req->path, req->argv, req->envp);
	child_fail(EXIT_SYSCALL, "execve");
	return -1;
}
