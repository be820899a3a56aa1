/* Test stand-in for systemd's notify socket: binds a datagram socket at argv[1] and appends
 * every message to argv[2] until killed (or 60 s pass). */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 64;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1]);
	unlink(argv[1]);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
		return 71;
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	time_t end = time(NULL) + 60;
	while (time(NULL) < end) {
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n <= 0)
			continue;
		FILE *out = fopen(argv[2], "a");
		if (!out)
			return 71;
		fprintf(out, "%.*s\n", (int)n, buf);
		fclose(out);
	}
	return 0;
}
