/* Tests for lib/sandbox.c with the shipped policies: each case forks a child that enters the
 * sandbox of a real role and then probes it; the parent judges by what the child reports
 * through a pipe and by how it died. argv[1]: the project's source root (for policy/). */
#include "../../lib/sandbox.c"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"

static char groups_text[65536];
static char policy_texts[5][32768];
static const char *const role_names[] = { "edge", "auth", "router", "server", "thirdparty" };
static bool as_root;

static void check(bool ok, const char *what)
{
	check_that(ok, "%s", what);
}

static void skip(const char *what, const char *why)
{
	printf("ok # skip %s: %s\n", what, why);
}

static bool read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t len = 0;
	ssize_t n;
	while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return len > 0 && len + 1 < cap;
}

static const char *policy_of(const char *role)
{
	for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
		if (strcmp(role_names[i], role) == 0)
			return policy_texts[i];
	}
	return NULL;
}

/* A spec for a role: no filesystem, no TCP, the unprivileged user when running as root. */
static struct sandbox_spec spec_for(const char *role)
{
	return (struct sandbox_spec){
		.role = role,
		.groups_text = groups_text,
		.policy_text = policy_of(role),
		.switch_user = as_root,
		.uid = 65534,
		.gid = 65534,
		.limits = { .nofile = 256, .no_core = true },
	};
}

/* ---- Running a child ---- */

struct child_result {
	int status;
	char report[4096]; /* what the child wrote to its report fd (and stderr, if captured) */
};

typedef void (*child_fn)(const struct sandbox_spec *spec, int report_fd, void *arg);

enum { CHILD_DEADLINE_MS = 10000 };

/* Reads what a child writes, at most CHILD_DEADLINE_MS per read; a child that hangs is
 * killed, so no case can stall the suite. Returns bytes read; *timed_out on a kill. */
static ssize_t read_child(pid_t pid, int fd, char *buf, size_t cap)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int ready = poll(&pfd, 1, CHILD_DEADLINE_MS);
	if (ready <= 0) {
		printf("# child %d hung; killing it\n", (int)pid);
		kill(pid, SIGKILL);
		return -1;
	}
	return read(fd, buf, cap);
}

/* Forks; the child runs fn (which enters the sandbox itself) and exits 0 when fn returns.
 * With capture_stderr the child's stderr goes into the report too. */
static void run_child(const struct sandbox_spec *spec, child_fn fn, void *arg,
                      bool capture_stderr, struct child_result *res)
{
	memset(res, 0, sizeof *res);
	res->status = -1;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (capture_stderr)
			dup2(fds[1], STDERR_FILENO);
		fn(spec, fds[1], arg);
		_exit(0);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t n;
	while (pid > 0 && len + 1 < sizeof res->report &&
	       (n = read_child(pid, fds[0], res->report + len, sizeof res->report - 1 - len)) > 0)
		len += (size_t)n;
	res->report[len] = '\0';
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &res->status, 0);
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0 && write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
		_exit(99);
}

static void enter(const struct sandbox_spec *spec, int report_fd)
{
	char err[512];
	if (sandbox_apply(spec, err, sizeof err) != 0) {
		say(report_fd, "sandbox_apply failed: %s\n", err);
		_exit(98);
	}
}

static bool exited_ok(const struct child_result *r)
{
	return r->status >= 0 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

static bool killed_by_sigsys(const struct child_result *r)
{
	return r->status >= 0 && WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGSYS;
}

static void report_on_failure(bool ok, const struct child_result *r)
{
	if (!ok)
		printf("#   status 0x%x, child said: %s\n", (unsigned)r->status, r->report);
}

static void check_child(bool ok, const struct child_result *r, const char *what)
{
	check(ok, what);
	report_on_failure(ok, r);
}

/* ---- Cases ---- */

/* /proc/self/status is opened before the sandbox: Landlock then forbids opening it, but a
 * fresh read at offset 0 still shows the current state. */
static void child_status(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	bool ask_dumpable = *(const bool *)arg; /* prctl is allowed only by some policies */
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	int limits_fd = open("/proc/self/limits", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || limits_fd < 0)
		_exit(97);
	enter(spec, report_fd);
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		_exit(96);
	buf[n] = '\0';
	static const char *const keys[] = { "Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:",
		"CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *at = strstr(buf, keys[i]);
		if (at)
			say(report_fd, "%.*s\n", (int)strcspn(at, "\n"), at);
	}
	n = pread(limits_fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	unsigned long long soft = 0, hard = 0;
	const char *at = strstr(buf, "Max open files");
	if (at && sscanf(at + strlen("Max open files"), "%llu %llu", &soft, &hard) == 2)
		say(report_fd, "nofile:\t%llu %llu\n", soft, hard);
	at = strstr(buf, "Max core file size");
	if (at && sscanf(at + strlen("Max core file size"), "%llu %llu", &soft, &hard) == 2)
		say(report_fd, "core:\t%llu %llu\n", soft, hard);
	if (ask_dumpable)
		say(report_fd, "dumpable:\t%d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

static bool has_line(const char *report, const char *line)
{
	const char *at = strstr(report, line);
	return at && (at == report || at[-1] == '\n') && (at[strlen(line)] == '\n');
}

static void test_status(const char *role)
{
	struct sandbox_spec spec = spec_for(role);
	struct child_result r;
	bool ask_dumpable = strcmp(role, "thirdparty") == 0;
	run_child(&spec, child_status, &ask_dumpable, false, &r);
	char what[128];
	snprintf(what, sizeof what, "%s: child exits normally after reading its status", role);
	check_child(exited_ok(&r), &r, what);
	static const char *const want[] = { "Seccomp:\t2", "NoNewPrivs:\t1",
		"CapEff:\t0000000000000000", "CapPrm:\t0000000000000000",
		"CapInh:\t0000000000000000", "CapAmb:\t0000000000000000", "nofile:\t256 256",
		"core:\t0 0" };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		snprintf(what, sizeof what, "%s: status shows '%s'", role, want[i]);
		check_child(has_line(r.report, want[i]), &r, what);
	}
	/* Only a process holding CAP_SETPCAP can empty its bounding set. */
	snprintf(what, sizeof what, "%s: bounding set empty", role);
	if (as_root)
		check_child(has_line(r.report, "CapBnd:\t0000000000000000"), &r, what);
	else
		skip(what, "not root");
	if (ask_dumpable) {
		snprintf(what, sizeof what, "%s: not dumpable", role);
		check_child(has_line(r.report, "dumpable:\t0"), &r, what);
	}
	snprintf(what, sizeof what, "%s: runs as uid/gid 65534", role);
	if (as_root)
		check_child(has_line(r.report, "Uid:\t65534\t65534\t65534\t65534") &&
		            has_line(r.report, "Gid:\t65534\t65534\t65534\t65534") &&
		            has_line(r.report, "Groups:\t65534 "), &r, what);
	else
		skip(what, "not root");
}

enum probe {
	PROBE_PTRACE,
	PROBE_INET_SOCKET,
	PROBE_UNIX_SOCKET,
	PROBE_GETPID,
	PROBE_EXEC_MAPPING,
	PROBE_EXEC_PROTECT,
	PROBE_DATA_MAPPING,
	PROBE_OPENAT_SOFT,
	PROBE_UNSHARE,
	PROBE_THREAD_CLONE,
	PROBE_FORK,
	PROBE_ABORT,
};

static void child_probe(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	enum probe probe = *(const enum probe *)arg;
	enter(spec, report_fd);
	long rc = 0;
	switch (probe) {
	case PROBE_PTRACE:
		rc = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		break;
	case PROBE_INET_SOCKET:
		rc = socket(AF_INET, SOCK_STREAM, 0);
		break;
	case PROBE_UNIX_SOCKET:
		rc = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		break;
	case PROBE_GETPID:
		rc = getpid() > 0 ? 0 : -1;
		break;
	case PROBE_EXEC_MAPPING:
		rc = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		     MAP_FAILED ? -1 : 0;
		break;
	case PROBE_EXEC_PROTECT:
	case PROBE_DATA_MAPPING: {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		rc = p == MAP_FAILED ? -1 : 0;
		if (rc == 0 && probe == PROBE_EXEC_PROTECT)
			rc = mprotect(p, 4096, PROT_READ | PROT_EXEC);
		break;
	}
	case PROBE_OPENAT_SOFT:
		rc = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
		if (rc < 0 && errno == EACCES)
			rc = 0;
		else
			rc = -1;
		break;
	case PROBE_UNSHARE:
		rc = unshare(CLONE_NEWUSER);
		break;
	case PROBE_THREAD_CLONE:
		rc = 0; /* see test_threads */
		break;
	case PROBE_FORK: {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		int st;
		rc = pid > 0 && waitpid(pid, &st, 0) == pid ? 0 : -1;
		break;
	}
	case PROBE_ABORT:
		abort();
	}
	if (rc < 0) {
		say(report_fd, "probe %d failed: %s\n", (int)probe, strerror(errno));
		_exit(1);
	}
}

static void expect_probe(const char *role, enum probe probe, bool should_die, const char *what)
{
	struct sandbox_spec spec = spec_for(role);
	struct child_result r;
	run_child(&spec, child_probe, &probe, false, &r);
	char line[200];
	snprintf(line, sizeof line, "%s: %s %s", role, what,
	         should_die ? "is killed by SIGSYS" : "works");
	check_child(should_die ? killed_by_sigsys(&r) : exited_ok(&r), &r, line);
}

static void test_syscall_filters(void)
{
	expect_probe("edge", PROBE_PTRACE, true, "ptrace");
	expect_probe("thirdparty", PROBE_PTRACE, true, "ptrace");
	expect_probe("router", PROBE_INET_SOCKET, true, "socket(AF_INET)");
	expect_probe("edge", PROBE_INET_SOCKET, true, "socket(AF_INET)");
	expect_probe("router", PROBE_UNIX_SOCKET, false, "socket(AF_UNIX)");
	expect_probe("server", PROBE_INET_SOCKET, false, "socket(AF_INET)");
	expect_probe("router", PROBE_GETPID, false, "getpid");
	expect_probe("edge", PROBE_EXEC_MAPPING, true, "mmap(PROT_EXEC)");
	expect_probe("edge", PROBE_EXEC_PROTECT, true, "mprotect(PROT_EXEC)");
	expect_probe("edge", PROBE_DATA_MAPPING, false, "mmap(PROT_READ|PROT_WRITE)");
	expect_probe("thirdparty", PROBE_EXEC_MAPPING, false, "mmap(PROT_EXEC)");
	expect_probe("edge", PROBE_OPENAT_SOFT, false, "open failing with EACCES");
	expect_probe("thirdparty", PROBE_UNSHARE, true, "unshare(CLONE_NEWUSER)");
	expect_probe("server", PROBE_FORK, true, "fork");
	expect_probe("thirdparty", PROBE_FORK, false, "fork");

	/* abort() must keep its own signal. */
	struct sandbox_spec spec = spec_for("edge");
	struct child_result r;
	enum probe probe = PROBE_ABORT;
	run_child(&spec, child_probe, &probe, false, &r);
	check_child(r.status >= 0 && WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT, &r,
	            "edge: abort() dies by SIGABRT");
}

static void *thread_main(void *arg)
{
	return arg;
}

static void child_thread(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	(void)arg;
	enter(spec, report_fd);
	pthread_t t;
	int rc = pthread_create(&t, NULL, thread_main, NULL);
	if (rc != 0 || pthread_join(t, NULL) != 0) {
		say(report_fd, "pthread: %s\n", strerror(rc));
		_exit(1);
	}
}

static void test_threads(void)
{
	static const char *const roles[] = { "auth", "server", "thirdparty" };
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		struct sandbox_spec spec = spec_for(roles[i]);
		struct child_result r;
		run_child(&spec, child_thread, NULL, false, &r);
		char what[128];
		snprintf(what, sizeof what, "%s: a thread starts and ends (clone3 -> ENOSYS -> clone)",
		         roles[i]);
		check_child(exited_ok(&r), &r, what);
	}
	struct sandbox_spec spec = spec_for("router");
	struct child_result r;
	run_child(&spec, child_thread, NULL, false, &r);
	check_child(killed_by_sigsys(&r), &r, "router: starting a thread is killed by SIGSYS");
}

/* ---- Landlock ---- */

struct fs_probe {
	const char *read_ok;   /* must open for reading */
	const char *read_deny; /* must fail with EACCES */
	const char *write_deny;
};

static void child_fs(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	const struct fs_probe *p = arg;
	enter(spec, report_fd);
	int fd;
	if (p->read_ok && (fd = open(p->read_ok, O_RDONLY | O_CLOEXEC)) < 0) {
		say(report_fd, "open %s: %s\n", p->read_ok, strerror(errno));
		_exit(1);
	}
	if (p->read_deny && ((fd = open(p->read_deny, O_RDONLY | O_CLOEXEC)) >= 0 || errno != EACCES)) {
		say(report_fd, "open %s: not refused (%s)\n", p->read_deny, strerror(errno));
		_exit(2);
	}
	if (p->write_deny && ((fd = open(p->write_deny, O_WRONLY | O_CLOEXEC)) >= 0 || errno != EACCES)) {
		say(report_fd, "open %s for writing: not refused (%s)\n", p->write_deny, strerror(errno));
		_exit(3);
	}
}

static void test_landlock_fs(const char *dir)
{
	if (sandbox_landlock_abi() == 0) {
		skip("landlock filesystem", "the kernel has no Landlock (ABI 0)");
		return;
	}
	printf("# Landlock ABI %d\n", sandbox_landlock_abi());
	char allowed[600], other[600];
	snprintf(allowed, sizeof allowed, "%s/allowed", dir);
	snprintf(other, sizeof other, "%s/other", dir);
	for (int i = 0; i < 2; i++) {
		int fd = open(i ? other : allowed, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, "x\n", 2) != 2) {
			check(false, "creating Landlock test files");
			return;
		}
		close(fd);
	}
	/* The server policy allows openat, and the process keeps the uid that owns the files,
	 * so only Landlock stands in the way. */
	struct sandbox_spec spec = spec_for("server");
	spec.switch_user = false;
	bool have_hostname = access("/etc/hostname", R_OK) == 0;
	struct fs_probe none = { .read_deny = have_hostname ? "/etc/hostname" : other };
	struct child_result r;
	run_child(&spec, child_fs, &none, false, &r);
	check_child(exited_ok(&r), &r, have_hostname
	            ? "landlock: with no paths, open(/etc/hostname) fails with EACCES"
	            : "landlock: with no paths, open() of a readable file fails with EACCES");

	const char *read_list[] = { allowed, "/nonexistent/skipped", NULL };
	spec.fs_read = read_list;
	struct fs_probe some = { .read_ok = allowed, .read_deny = other, .write_deny = allowed };
	run_child(&spec, child_fs, &some, false, &r);
	check_child(exited_ok(&r), &r,
	            "landlock: a listed file opens for reading, not for writing; others stay closed");
	unlink(allowed);
	unlink(other);
}

struct net_probe {
	unsigned short port;
	bool expect_connect;
};

static void child_connect(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	const struct net_probe *p = arg;
	enter(spec, report_fd);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(p->port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
	if ((rc == 0) != p->expect_connect) {
		say(report_fd, "connect to %u: %s\n", p->port, rc == 0 ? "succeeded" : strerror(errno));
		_exit(1);
	}
	if (rc != 0 && errno != EACCES) {
		say(report_fd, "connect refused with %s, not EACCES\n", strerror(errno));
		_exit(2);
	}
}

static void test_landlock_net(void)
{
	if (sandbox_landlock_abi() < 4) {
		skip("landlock TCP", "the kernel's Landlock ABI is below 4");
		return;
	}
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sin;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 8) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) != 0) {
		check(false, "landlock TCP: a listener on 127.0.0.1");
		return;
	}
	unsigned short port = ntohs(sin.sin_port);
	struct sandbox_spec spec = spec_for("server");
	struct child_result r;
	struct net_probe probe = { .port = port, .expect_connect = false };
	run_child(&spec, child_connect, &probe, false, &r);
	check_child(exited_ok(&r), &r, "landlock: without allow_tcp_connect, TCP connect fails (EACCES)");

	spec.allow_tcp_connect = true;
	probe.expect_connect = true;
	run_child(&spec, child_connect, &probe, false, &r);
	check_child(exited_ok(&r), &r, "landlock: with allow_tcp_connect, TCP connect works");

	unsigned short only_port[] = { port, 0 };
	unsigned short other_port[] = { (unsigned short)(port == 1 ? 2 : port - 1), 0 };
	spec.tcp_connect_ports = only_port;
	run_child(&spec, child_connect, &probe, false, &r);
	check_child(exited_ok(&r), &r, "landlock: a listed port can be reached");
	spec.tcp_connect_ports = other_port;
	probe.expect_connect = false;
	run_child(&spec, child_connect, &probe, false, &r);
	check_child(exited_ok(&r), &r, "landlock: an unlisted port cannot be reached (EACCES)");
	close(lfd);
}

static void child_signal_parent(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	(void)arg;
	pid_t parent = getppid();
	enter(spec, report_fd);
	if (kill(parent, 0) == 0 || errno != EPERM) {
		say(report_fd, "kill(parent, 0): %s\n", strerror(errno));
		_exit(1);
	}
}

static void test_landlock_scope(void)
{
	if (sandbox_landlock_abi() < 6) {
		skip("landlock signal scope", "the kernel's Landlock ABI is below 6");
		return;
	}
	/* thirdparty allows kill(2), so only Landlock's scope can refuse it. */
	struct sandbox_spec spec = spec_for("thirdparty");
	spec.switch_user = false; /* same uid as the parent: only the scope stands in the way */
	struct child_result r;
	run_child(&spec, child_signal_parent, NULL, false, &r);
	check_child(exited_ok(&r), &r, "landlock: no signal reaches a process outside the sandbox");
}

/* ---- User switch, errors, debug ---- */

static void child_regain_root(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	(void)arg;
	enter(spec, report_fd);
	uid_t r, e, s;
	if (getresuid(&r, &e, &s) != 0 || r != 65534 || e != 65534 || s != 65534) {
		say(report_fd, "uids %u %u %u\n", (unsigned)r, (unsigned)e, (unsigned)s);
		_exit(1);
	}
	if (setuid(0) == 0 || errno != EPERM) {
		say(report_fd, "setuid(0) was not refused\n");
		_exit(2);
	}
}

static void test_user_switch(void)
{
	if (!as_root) {
		skip("uid switch", "not root");
		return;
	}
	/* setuid must reach the kernel to be refused there, not be killed by seccomp. */
	static char text[sizeof policy_texts[0] + 64];
	snprintf(text, sizeof text, "%s\nallow setuid\n", policy_of("thirdparty"));
	struct sandbox_spec spec = spec_for("thirdparty");
	spec.policy_text = text;
	struct child_result r;
	run_child(&spec, child_regain_root, NULL, false, &r);
	check_child(exited_ok(&r), &r, "root -> 65534 really happens, and setuid(0) then fails");
}

static void child_expect_error(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	const char *needle = arg;
	char err[512];
	if (sandbox_apply(spec, err, sizeof err) == 0) {
		say(report_fd, "sandbox_apply succeeded\n");
		_exit(1);
	}
	if (!strstr(err, needle)) {
		say(report_fd, "error '%s' lacks '%s'\n", err, needle);
		_exit(2);
	}
	/* A bad policy is found before anything changed. */
	if (strstr(needle, "seccomp policy") && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) {
		say(report_fd, "no_new_privs was set before the policy error\n");
		_exit(3);
	}
}

static void test_errors(void)
{
	struct sandbox_spec spec = spec_for("edge");
	spec.policy_text = "use io\nuse netwrok\n";
	struct child_result r;
	run_child(&spec, child_expect_error, "seccomp policy: edge.policy:2: unknown group 'netwrok'",
	          false, &r);
	check_child(exited_ok(&r), &r, "a bad policy fails first, naming edge.policy:2");

	spec = spec_for("server:data");
	spec.policy_text = policy_of("server");
	spec.groups_text = "group io read\n";
	run_child(&spec, child_expect_error, "seccomp policy: groups.policy:1:", false, &r);
	check_child(exited_ok(&r), &r, "a bad groups file is named as groups.policy:1");

	if (as_root) {
		spec = spec_for("router");
		spec.uid = 0;
		run_child(&spec, child_expect_error, "user: refusing to run router as uid/gid 0", false, &r);
		check_child(exited_ok(&r), &r, "switching to uid 0 is refused, naming the step");
	} else {
		spec = spec_for("router");
		spec.switch_user = true;
		run_child(&spec, child_expect_error, "user: switching to uid 65534 needs root", false, &r);
		check_child(exited_ok(&r), &r, "a user switch without root fails, naming the step");
	}
}

static void child_debug_violation(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	(void)arg;
	enter(spec, report_fd);
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	say(report_fd, "ptrace returned\n");
}

static void test_debug_mode(void)
{
	struct sandbox_spec spec = spec_for("edge");
	spec.debug = true;
	struct child_result r;
	run_child(&spec, child_debug_violation, NULL, true, &r);
	check_child(killed_by_sigsys(&r), &r, "debug: the violating child still dies by SIGSYS");
	const char *at = strstr(r.report, "\"event\":\"seccomp_violation\",\"syscall\":\"ptrace\"");
	check_child(at != NULL, &r, "debug: stderr names the syscall (ptrace)");
	/* The whole line is one JSON object. */
	const char *start = at;
	while (start && start > r.report && start[-1] != '\n')
		start--;
	const char *end = at ? strchr(at, '\n') : NULL;
	json_error_t jerr;
	json_t *doc = start && end ? json_loadb(start, (size_t)(end - start), 0, &jerr) : NULL;
	check_child(json_is_object(doc) && json_is_string(json_object_get(doc, "time")) &&
	            json_integer_value(json_object_get(doc, "nr")) > 0, &r,
	            "debug: the line is one JSON object with time and syscall number");
	json_decref(doc);
}

/* ---- A real workload: what edge and router do after the sandbox ---- */

struct workload {
	struct event_base *base;
	int peer;
	int rounds;
	int report_fd;
};

static void on_echo(struct bufferevent *bev, void *arg)
{
	struct workload *w = arg;
	char buf[256];
	size_t n = bufferevent_read(bev, buf, sizeof buf - 1);
	buf[n] = '\0';
	json_error_t jerr;
	json_t *doc = json_loads(buf, JSON_DISABLE_EOF_CHECK, &jerr); /* messages may coalesce */
	char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!out) {
		say(w->report_fd, "json round trip failed\n");
		_exit(1);
	}
	bufferevent_write(bev, out, strlen(out));
	free(out);
	json_decref(doc);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct workload *w = arg;
	char msg[64];
	int n = snprintf(msg, sizeof msg, "{\"jsonrpc\":\"2.0\",\"id\":%d}", w->rounds);
	if (write(w->peer, msg, (size_t)n) != n)
		_exit(2);
	char sink[256]; /* the echoes, whenever they have arrived (the peer is non-blocking) */
	if (read(w->peer, sink, sizeof sink) == 0)
		_exit(3);
	void *big = malloc(1 << 20); /* large enough for mmap, not brk */
	if (!big)
		_exit(4);
	memset(big, w->rounds, 1 << 20);
	free(big);
	if (++w->rounds == 3)
		say(w->report_fd, "ready\n"); /* the parent now sends SIGTERM */
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct workload *w = arg;
	event_base_loopbreak(w->base);
}

static void child_workload(const struct sandbox_spec *spec, int report_fd, void *arg)
{
	(void)arg;
	int sv[2];
	struct workload w = { .report_fd = report_fd };
	w.base = event_base_new();
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (!w.base || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		_exit(5);
	w.peer = sv[1];
	if (fcntl(w.peer, F_SETFL, O_NONBLOCK) != 0)
		_exit(5);
	enter(spec, report_fd);
	unsigned char random[48];
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0 ||
	    mbedtls_ctr_drbg_random(&drbg, random, sizeof random) != 0)
		_exit(6);
	struct bufferevent *bev = bufferevent_socket_new(w.base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, on_echo, NULL, NULL, &w);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	struct event *term = evsignal_new(w.base, SIGTERM, on_term, &w);
	struct event *tick = event_new(w.base, -1, EV_PERSIST, on_tick, &w);
	struct timeval every = { 0, 10000 };
	if (!term || !tick || event_add(term, NULL) != 0 || event_add(tick, &every) != 0)
		_exit(7);
	event_base_dispatch(w.base);
	event_free(tick);
	event_free(term);
	bufferevent_free(bev);
	event_base_free(w.base);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	say(report_fd, "done %d\n", w.rounds);
}

static void test_workload(const char *role)
{
	struct sandbox_spec spec = spec_for(role);
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child_workload(&spec, fds[1], NULL);
		_exit(0);
	}
	close(fds[1]);
	char report[512] = "";
	size_t len = 0;
	ssize_t n;
	bool signalled = false;
	/* Read until EOF; after "ready", ask the child to stop as the supervisor would. */
	while (pid > 0 && len + 1 < sizeof report &&
	       (n = read_child(pid, fds[0], report + len, sizeof report - 1 - len)) > 0) {
		len += (size_t)n;
		report[len] = '\0';
		if (!signalled && strstr(report, "ready")) {
			kill(pid, SIGTERM);
			signalled = true;
		}
	}
	close(fds[0]);
	struct child_result r = { .status = -1 };
	snprintf(r.report, sizeof r.report, "%s", report);
	if (pid > 0)
		waitpid(pid, &r.status, 0);
	char what[160];
	snprintf(what, sizeof what,
	         "%s: libevent loop, bufferevents, signals, timers, jansson, mbedtls entropy all run",
	         role);
	check_child(exited_ok(&r) && signalled && strstr(report, "done"), &r, what);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
		return 2;
	}
	log_init("test_sandbox");
	as_root = geteuid() == 0;
	printf("# running as %s\n", as_root ? "root" : "an unprivileged user");
	char path[600];
	snprintf(path, sizeof path, "%s/policy/groups.policy", argv[1]);
	bool loaded = read_file(path, groups_text, sizeof groups_text);
	for (size_t i = 0; loaded && i < sizeof role_names / sizeof role_names[0]; i++) {
		snprintf(path, sizeof path, "%s/policy/%s.policy", argv[1], role_names[i]);
		loaded = read_file(path, policy_texts[i], sizeof policy_texts[i]);
	}
	if (!loaded) {
		printf("FAIL reading the policies under %s/policy\n", argv[1]);
		return 1;
	}
	char dir[] = "/tmp/test_sandbox.XXXXXX";
	if (!mkdtemp(dir)) {
		printf("FAIL mkdtemp\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
		test_status(role_names[i]);
	test_syscall_filters();
	test_threads();
	test_landlock_fs(dir);
	test_landlock_net();
	test_landlock_scope();
	test_user_switch();
	test_errors();
	test_debug_mode();
	test_workload("edge");
	test_workload("router");
	test_workload("auth");
	rmdir(dir);
	return check_finish();
}
