/* Tests for lib/policy.c: every shipped policy parses; each kind of mistake is reported with
 * its file and line; argument filters and errno rules do what they say once loaded.
 * argv[1]: the project's source root (for policy/). */
#include "../../lib/policy.c"

#include <fcntl.h>
#include <sys/wait.h>

#include "check.h"

static char groups_text[65536];
static const char *policy_dir;

static void check(bool ok, const char *what)
{
	check_that(ok, "%s", what);
}

static bool read_policy(const char *name, char *buf, size_t cap)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", policy_dir, name);
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

static void test_shipped_policies_parse(void)
{
	static const char *const roles[] = { "edge", "auth", "router", "server", "thirdparty" };
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		char name[64], text[32768], err[512] = "", what[700];
		snprintf(name, sizeof name, "%s.policy", roles[i]);
		bool loaded = read_policy(name, text, sizeof text);
		for (int debug = 0; debug <= 1; debug++) {
			scmp_filter_ctx ctx = loaded ? policy_build(groups_text, text, name, debug, err,
			                                            sizeof err) : NULL;
			snprintf(what, sizeof what, "%s parses%s %s", name, debug ? " (debug)" : "", err);
			check(ctx != NULL, what);
			if (ctx)
				seccomp_release(ctx);
		}
	}
}

/* Builds with the given texts and expects an error starting with `prefix` and holding
 * `needle`. */
static void expect_error(const char *groups, const char *policy, const char *prefix,
                         const char *needle)
{
	char err[512] = "", what[800];
	scmp_filter_ctx ctx = policy_build(groups, policy, "t.policy", false, err, sizeof err);
	bool ok = !ctx && strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, needle);
	snprintf(what, sizeof what, "error '%s...%s' (got: %s)", prefix, needle, err);
	check(ok, what);
	if (ctx)
		seccomp_release(ctx);
}

static void expect_parses(const char *policy, const char *what)
{
	char err[512] = "", line[700];
	scmp_filter_ctx ctx = policy_build(groups_text, policy, "t.policy", false, err, sizeof err);
	snprintf(line, sizeof line, "%s %s", what, err);
	check(ctx != NULL, line);
	if (ctx)
		seccomp_release(ctx);
}

static void test_errors(void)
{
	const char *g = groups_text;
	expect_error(g, "use io\nuse memory netwrok\n", "t.policy:2: ", "unknown group 'netwrok'");
	expect_error(g, "allow read nosuchcall\n", "t.policy:1: ", "unknown syscall 'nosuchcall'");
	expect_error(g, "allow? nosuchcall\n", "t.policy:1: ", "unknown syscall 'nosuchcall'");
	expect_error(g, "permit read\n", "t.policy:1: ", "unknown statement 'permit'");
	expect_error(g, "# c\n\nallow read\n\twrite\n\t# c\n\tnosuch2\n", "t.policy:6: ",
	             "unknown syscall 'nosuch2'");
	expect_error(g, "  allow read\n", "t.policy:1: ", "indented line continues no statement");
	expect_error(g, "allow Read\n", "t.policy:1: ", "not a syscall name");
	expect_error(g, "allow read\x01\n", "t.policy:1: ", "unexpected byte 0x01");
	expect_error(g, "group x: read\n", "t.policy:1: ", "groups.policy only");
	expect_error(g, "allow\n", "t.policy:1: ", "names no syscall");
	expect_error(g, "use\n", "t.policy:1: ", "names no group");
	expect_error(g, "allow socket if\n", "t.policy:1: ", "'if' without a condition");
	expect_error(g, "allow socket if domain\n", "t.policy:1: ", "expected 'ARG in|lacks|has");
	expect_error(g, "allow socket if domain is AF_UNIX\n", "t.policy:1: ", "unknown comparison 'is'");
	expect_error(g, "allow socket if domain in AF_BOGUS\n", "t.policy:1: ",
	             "'AF_BOGUS' is neither a number nor a known constant");
	expect_error(g, "allow read if domain in 1\n", "t.policy:1: ",
	             "'read' has no argument named 'domain'");
	expect_error(g, "allow socket if domain in 1 and domain in 2\n", "t.policy:1: ",
	             "two conditions on one argument");
	expect_error(g, "allow socket if domain in 1 and\n", "t.policy:1: ", "'and' ends the line");
	expect_error(g, "allow mmap if prot lacks 0\n", "t.policy:1: ", "non-zero value");
	expect_error(g, "allow socket\nallow socket if domain in AF_UNIX\n", "t.policy:2: ",
	             "already allowed outright (t.policy:1)");
	expect_error(g, "allow socket if domain in AF_UNIX\nallow socket\n", "t.policy:2: ",
	             "restricted by its arguments at t.policy:1");
	expect_error(g, "allow openat\nerrno EACCES: openat\n", "t.policy:2: ", "cannot also fail");
	expect_error(g, "errno EACCES: openat\nuse files-read\n", "t.policy:2: ",
	             "already fails with an errno (t.policy:1)");
	expect_error(g, "errno EACCES: openat\nerrno EPERM: openat\n", "t.policy:2: ",
	             "another errno");
	expect_error(g, "errno EWHAT: openat\n", "t.policy:1: ", "unknown errno name 'EWHAT'");
	expect_error(g, "errno openat\n", "t.policy:1: ", "expected 'errno ENAME: syscall...'");
	expect_error(g, "allow ioctl if request in FIONREAD\nuse sanitizer\n", "t.policy:2: ",
	             "restricted by its arguments");
	/* The groups file reports its own name. */
	expect_error("group io read\n", "use io\n", "groups.policy:1: ", "expected 'group NAME:");
	expect_error("group io: read\ngroup io: write\n", "use io\n", "groups.policy:2: ",
	             "defined twice");
	expect_error("group io:\n", "use io\n", "groups.policy:1: ", "names no syscalls");
	expect_error("group io: read\n\tfrobnicate\n", "use io\n", "groups.policy:2: ",
	             "unknown syscall 'frobnicate'");
	expect_error(NULL, "use io\n", "groups.policy: ", "no text");
}

static void test_optional_names(void)
{
	/* socketcall exists only on 32-bit x86 and a few others: absent here, on x86_64 and
	 * aarch64 alike. */
	if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, "socketcall") >= 0) {
		printf("ok # skip optional names: socketcall exists on this architecture\n");
		return;
	}
	expect_error(groups_text, "allow socketcall\n", "t.policy:1: ",
	             "does not exist on this architecture (write 'socketcall?'");
	expect_parses("allow read socketcall?\n", "an optional absent name is skipped");
	expect_parses("allow? socketcall read\n", "allow? makes every name optional");
	expect_parses("errno? ENOSYS: socketcall\n", "errno? makes every name optional");
	expect_parses("use io memory\nallow read # again\n", "overlapping allows merge");
	expect_parses("allow mmap mprotect if prot lacks PROT_EXEC\n"
	              "allow socket if domain in AF_UNIX 10 0x2\n"
	              "allow setsockopt if level in SOL_SOCKET and optname in SO_KEEPALIVE\n"
	              "allow setsockopt if level in IPPROTO_TCP and optname in TCP_NODELAY\n"
	              "allow clone if flags has CLONE_THREAD\n",
	              "argument filters of every kind");
}

/* Forks; the child loads `policy` (on top of the basic groups) and runs `probe`; returns the
 * wait status. */
static int run_filtered(const char *policy, int (*probe)(void))
{
	char text[2048];
	snprintf(text, sizeof text, "use io memory signals self process-exit\n%s", policy);
	char err[512] = "";
	scmp_filter_ctx ctx = policy_build(groups_text, text, "t.policy", false, err, sizeof err);
	if (!ctx) {
		printf("# policy did not build: %s\n", err);
		return -1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (seccomp_load(ctx) != 0)
			_exit(90);
		_exit(probe());
	}
	seccomp_release(ctx);
	int status = -1;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static bool exited_ok(int status)
{
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool killed_by_sigsys(int status)
{
	return status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static int probe_unix_socket(void)
{
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}

static int probe_inet_socket(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int probe_exec_mapping(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 0;
}

static int probe_data_mapping(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 1 : 0;
}

static int probe_openat_eacces(void)
{
	int fd = openat(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
	return fd < 0 && errno == EACCES ? 0 : 1;
}

static int probe_getppid(void)
{
	return getppid() > 0 ? 0 : 1;
}

static void test_filters_when_loaded(void)
{
	const char *unix_only = "allow socket if domain in AF_UNIX\n";
	check(exited_ok(run_filtered(unix_only, probe_unix_socket)), "'domain in AF_UNIX' allows AF_UNIX");
	check(killed_by_sigsys(run_filtered(unix_only, probe_inet_socket)),
	      "'domain in AF_UNIX' kills AF_INET");
	const char *no_exec = "allow mmap if prot lacks PROT_EXEC\n";
	check(exited_ok(run_filtered(no_exec, probe_data_mapping)), "'prot lacks PROT_EXEC' allows RW");
	check(killed_by_sigsys(run_filtered(no_exec, probe_exec_mapping)),
	      "'prot lacks PROT_EXEC' kills RX");
	check(exited_ok(run_filtered("allow mmap if prot has PROT_EXEC\n", probe_exec_mapping)),
	      "'prot has PROT_EXEC' allows RX");
	check(exited_ok(run_filtered("errno EACCES: openat\n", probe_openat_eacces)),
	      "errno EACCES: openat fails softly");
	check(killed_by_sigsys(run_filtered("", probe_getppid)), "an unlisted syscall kills");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
		return 2;
	}
	static char dir[512];
	snprintf(dir, sizeof dir, "%s/policy", argv[1]);
	policy_dir = dir;
	if (!read_policy("groups.policy", groups_text, sizeof groups_text)) {
		printf("FAIL reading %s/groups.policy\n", policy_dir);
		return 1;
	}
	test_shipped_policies_parse();
	test_errors();
	test_optional_names();
	test_filters_when_loaded();
	return check_finish();
}
