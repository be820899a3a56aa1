/* One record per child process and the table that declares the roles. */
#ifndef MCPGATE_CHILDREN_H
#define MCPGATE_CHILDREN_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel.h"
#include "logrelay.h"

enum child_kind { CHILD_EDGE, CHILD_AUTH, CHILD_ROUTER, CHILD_SERVER };

enum child_state {
	CHILD_DOWN,     /* not started yet */
	CHILD_STARTING, /* running, not ready */
	CHILD_READY,    /* sandboxed and serving */
	CHILD_BACKOFF,  /* dead, restart scheduled */
	CHILD_FAILED,   /* dead for good: too many deaths in the window */
	CHILD_STOPPING, /* asked to drain or removed by a reload */
};

/* The static part: what each role is. Reading this table tells you the whole system. */
struct role_def {
	enum child_kind kind;
	const char *role;       /* "edge" */
	const char *program;    /* "mcpgate-edge" */
	const char *policy;     /* "edge.policy" */
	const char *user;       /* suffix of the role user: "<prefix>edge" */
};

struct supervisor;

#define CHILD_TALLY_MAX 1000

struct child {
	struct supervisor *sup;
	const struct role_def *def;
	unsigned instance;
	char name[80];          /* "edge.0", "auth", "router", "server:data" */
	char server_name[64];   /* CHILD_SERVER only */
	enum child_state state;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	struct channel *control;
	struct logrelay log;
	struct event *restart_timer;
	uint64_t started_ms;
	uint32_t backoff_ms;
	uint64_t deaths[CHILD_TALLY_MAX]; /* times of recent deaths, oldest first */
	size_t n_deaths;
	uint32_t restarts;
	int router_end;         /* CHILD_SERVER: the router's end of its stdio link, kept here */
	json_t *slice;          /* the config slice last sent */
	bool removed;           /* a reload dropped this server: do not restart it */
	char session[65];       /* per-session server: the client session it serves, else "" */
};

#endif
