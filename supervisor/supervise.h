/* The supervisor proper: the process table, start-up wiring, restarts with backoff and a
 * death tally, readiness, SIGHUP reload and SIGTERM drain. */
#ifndef MCPGATE_SUPERVISE_H
#define MCPGATE_SUPERVISE_H

/* Runs the appliance described by the config file until SIGTERM/SIGINT. Returns the exit
 * code: 0 after a clean stop, non-zero when a core role failed for good. */
int supervise_run(const char *config_path);

#endif
