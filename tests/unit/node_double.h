/* node_double.h: runs a loopback double from tests/fixtures (a Node script that prints
 * "PORT n" on stdout once it listens and stops when its stdin closes) for the unit tests that
 * talk to one. Header-only, for test programs. */
#ifndef MCPGATE_TESTS_NODE_DOUBLE_H
#define MCPGATE_TESTS_NODE_DOUBLE_H

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct node_double {
	pid_t pid;
	int stdin_fd;
	int port;
};

#define NODE_DOUBLE_INIT { -1, -1, 0 }

/* How long a double may take to print its port: node starts slowly under sanitizers. */
#define NODE_DOUBLE_START_MS 15000

static inline double node_double_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Starts ROOT/tests/fixtures/SCRIPT_NAME and reads its port. Returns 0, or 77 when node is not
 * installed (the caller then skips its loopback tests), or -1. */
__attribute__((unused))
static int node_double_start(struct node_double *d, const char *root, const char *script_name)
{
	char script[4096];
	snprintf(script, sizeof script, "%s/tests/fixtures/%s", root, script_name);
	int out[2], in[2];
	if (pipe2(out, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(in, O_CLOEXEC) != 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execlp("node", "node", script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	d->stdin_fd = in[1];
	char line[64] = { 0 };
	size_t n = 0;
	double deadline = node_double_clock_ms() + NODE_DOUBLE_START_MS;
	while (n < sizeof line - 1 && !strchr(line, '\n') && node_double_clock_ms() < deadline) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		ssize_t r = read(out[0], line + n, sizeof line - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(out[0]);
	if (sscanf(line, "PORT %d", &d->port) == 1 && d->port > 0)
		return 0;
	int status = 0;
	kill(d->pid, SIGTERM);
	waitpid(d->pid, &status, 0);
	d->pid = -1;
	close(d->stdin_fd);
	d->stdin_fd = -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? 77 : -1;
}

/* Closes the double's stdin (its polite stop), then makes sure with SIGTERM and reaps it. */
__attribute__((unused))
static void node_double_stop(struct node_double *d)
{
	if (d->pid <= 0)
		return;
	close(d->stdin_fd);
	d->stdin_fd = -1;
	kill(d->pid, SIGTERM);
	waitpid(d->pid, NULL, 0);
	d->pid = -1;
}

#endif
