/* systemd's readiness protocol (sd_notify) without libsystemd: one datagram to
 * $NOTIFY_SOCKET. A no-op when not started by systemd. */
#ifndef MCPGATE_NOTIFY_H
#define MCPGATE_NOTIFY_H

int notify_systemd(const char *state);

#endif
