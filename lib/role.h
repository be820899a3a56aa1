/* Start-up shared by every role binary: receive the HELLO frame from the supervisor on the
 * control fd (3), load the config slice with the one config loader, enter the sandbox the
 * HELLO describes, then report READY. Readiness is pushed by the child, never polled. */
#ifndef MCPGATE_ROLE_H
#define MCPGATE_ROLE_H

#include <jansson.h>
#include <stdint.h>
#include "config.h"

#define ROLE_CONTROL_FD 3

struct role_context {
	const char *role;     /* "edge", "auth", "router", "server:data" */
	int control_fd;
	json_t *hello;        /* the HELLO document (owned) */
	struct config cfg;    /* this role's slice */
	unsigned instance;    /* which instance of the role */
};

/* Reads HELLO from the control fd and loads the config slice; fatal on any error. */
void role_start(struct role_context *rc, const char *role);
/* The fd the supervisor passed under `name` ("listen0", "auth", "router", "upstream:data"),
 * or -1. */
int role_fd(const struct role_context *rc, const char *name);
/* Iterates over passed fds whose names start with prefix; returns count written to out. */
size_t role_fds_with_prefix(const struct role_context *rc, const char *prefix,
                            const char **names, int *fds, size_t max);
/* A string from HELLO's "data" object (PEM blobs and the like), or NULL. Borrowed. */
const char *role_data(const struct role_context *rc, const char *key);
/* Applies the sandbox from HELLO; fatal on failure. */
void role_enter_sandbox(struct role_context *rc);
/* Tells the supervisor this child is ready. */
void role_report_ready(struct role_context *rc);
void role_context_free(struct role_context *rc);

/* After READY, the control channel runs on the event loop. The supervisor sends new config
 * slices (SIGHUP), replacement links when a peer restarts, status (appliance readiness) and
 * DRAIN. When the channel closes the supervisor is gone and the child exits. */
struct role_control_ops {
	void (*on_config)(json_t *slice, void *arg);         /* new slice, already validated */
	void (*on_link)(const char *name, int fd, void *arg); /* takes ownership of fd */
	void (*on_status)(json_t *status, void *arg);
	void (*on_drain)(void *arg);                         /* stop accepting, finish, exit */
};
struct event_base;
/* Sends a frame to the supervisor on the control channel (after role_control_attach).
 * Returns 0, or -1 if the channel is gone or full. */
int role_control_send(uint8_t type, const char *meta, const char *body);
void role_control_attach(struct role_context *rc, struct event_base *base,
                         const struct role_control_ops *ops, void *arg);

#endif
