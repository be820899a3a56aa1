/* Integration test of the Redis limiter against a real redis-server that the test starts on a
 * free 127.0.0.1 port: two limiter processes hammer one principal and, judged by Redis's own
 * clock, no window ever admits more than the limit across both; SCRIPT FLUSH mid-run is
 * survived; killing or stopping Redis gives 503 verdicts (fail mode closed) or embedded
 * verdicts (local), and shared limiting resumes by itself when Redis is back; AUTH and SELECT
 * work and a wrong password is refused. Exit 77 (skip) when redis-server is not installed. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "limiter.h"
#include "log.h"

#define LIMIT 20
#define WINDOW_MS 2000
#define TICK_MS 10         /* each worker asks every 10 ms: 100/s against 10/s allowed */
#define MAX_RECORDS 4096
#define WORKERS 2

#include "../unit/check.h"

struct record {
	int64_t client_ms;   /* CLOCK_REALTIME when the verdict arrived */
	int64_t decided_ms;  /* the verdict's clock (Redis TIME when shared) */
	uint8_t outcome;
	uint8_t shared;
	uint32_t retry_after_s;
};

struct worker_result {
	size_t n;
	struct limiter_stats stats;
	int setup_failed;
	struct record rec[MAX_RECORDS];
};

static struct worker_result *results; /* shared with the workers (MAP_SHARED) */
static pid_t redis_pid = -1;
static char redis_dir[] = "/tmp/mcpgate-limiter-redis-XXXXXX";

static int64_t realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_until(int64_t when_ms)
{
	for (int64_t now = realtime_ms(); now < when_ms; now = realtime_ms()) {
		struct timespec ts = { .tv_sec = (when_ms - now) / 1000,
		                       .tv_nsec = ((when_ms - now) % 1000) * 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* ---- redis-server, started and stopped by PID ---- */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		perror("free_port");
		exit(2);
	}
	close(fd);
	return ntohs(a.sin_port);
}

static void stop_redis(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
		redis_pid = -1;
	}
}

static redisContext *connect_sync(int port)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Starts redis-server in the foreground (no persistence) and waits until it answers. */
static int start_redis(int port, const char *password)
{
	char port_text[16];
	snprintf(port_text, sizeof port_text, "%d", port);
	redis_pid = fork();
	if (redis_pid < 0) {
		perror("fork");
		exit(2);
	}
	if (redis_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		if (password)
			execlp("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1",
			       "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", redis_dir,
			       "--requirepass", password, (char *)NULL);
		else
			execlp("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1",
			       "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", redis_dir,
			       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		int status;
		if (waitpid(redis_pid, &status, WNOHANG) == redis_pid) {
			redis_pid = -1;
			return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? 77 : -1;
		}
		redisContext *c = connect_sync(port);
		if (c) {
			redisReply *r = redisCommand(c, "PING");
			bool up = r && (r->type == REDIS_REPLY_STATUS ||
			                (r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOAUTH")));
			freeReplyObject(r);
			redisFree(c);
			if (up)
				return 0;
		}
		usleep(50000);
	}
	stop_redis();
	return -1;
}

/* One command on a fresh connection; returns the reply (caller frees) or NULL. */
static redisReply *command(int port, const char *password, unsigned db, const char *fmt,
                           const char *arg)
{
	redisContext *c = connect_sync(port);
	if (!c)
		return NULL;
	redisReply *r = NULL;
	if (password)
		freeReplyObject(redisCommand(c, "AUTH %s", password));
	if (db)
		freeReplyObject(redisCommand(c, "SELECT %u", db));
	r = arg ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
	redisFree(c);
	return r;
}

/* ---- a worker: one process, one event loop, one limiter ---- */

struct worker {
	struct limiter *l;
	struct event_base *base;
	struct worker_result *out;
	const char *principal;
};

static void on_verdict(const struct limit_verdict *v, void *arg)
{
	struct worker *w = arg;
	if (w->out->n >= MAX_RECORDS)
		return;
	struct record *r = &w->out->rec[w->out->n++];
	r->client_ms = realtime_ms();
	r->decided_ms = v->decided_ms;
	r->outcome = (uint8_t)v->outcome;
	r->shared = v->shared;
	r->retry_after_s = v->retry_after_s;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	struct limiter_rule rule = limiter_default_rule(w->l);
	if (limiter_check(w->l, w->principal, &rule, 1, on_verdict, w) != 0)
		w->out->setup_failed = 1;
}

static void run_worker(struct worker_result *out, int port, const char *password, unsigned db,
                       enum limiter_fail_mode mode, const char *principal, int duration_ms)
{
	struct limiter_config cfg;
	char err[256];
	struct worker w = { .out = out, .principal = principal };
	limiter_config_defaults(&cfg);
	cfg.requests = LIMIT;
	cfg.window_ms = WINDOW_MS;
	snprintf(cfg.redis_host, sizeof cfg.redis_host, "127.0.0.1");
	cfg.redis_port = (uint16_t)port;
	cfg.redis_db = db;
	if (password)
		snprintf(cfg.redis_password, sizeof cfg.redis_password, "%s", password);
	cfg.fail_mode = mode;
	w.base = event_base_new();
	w.l = w.base ? limiter_new(w.base, &cfg, err, sizeof err) : NULL;
	if (!w.l) {
		out->setup_failed = 1;
		_exit(1);
	}
	/* Let the first connect and SCRIPT LOAD finish so the run starts shared. */
	struct timeval settle = { 0, 200000 }, tick = { 0, TICK_MS * 1000 };
	event_base_loopexit(w.base, &settle);
	event_base_dispatch(w.base);
	struct event *t = event_new(w.base, -1, EV_PERSIST, on_tick, &w);
	struct timeval stop = { duration_ms / 1000, (duration_ms % 1000) * 1000 };
	event_add(t, &tick);
	event_base_loopexit(w.base, &stop);
	event_base_dispatch(w.base);
	limiter_get_stats(w.l, &out->stats);
	event_free(t);
	limiter_free(w.l);
	event_base_free(w.base);
	_exit(0);
}

static pid_t workers[WORKERS];

static void start_workers(int port, const char *password, unsigned db, enum limiter_fail_mode mode,
                          const char *principal, int duration_ms)
{
	memset(results, 0, sizeof *results * WORKERS);
	fflush(stdout);
	for (int i = 0; i < WORKERS; i++) {
		workers[i] = fork();
		if (workers[i] < 0) {
			perror("fork");
			exit(2);
		}
		if (workers[i] == 0)
			run_worker(&results[i], port, password, db, mode, principal, duration_ms);
	}
}

static void wait_workers(void)
{
	for (int i = 0; i < WORKERS; i++) {
		int status;
		if (workers[i] > 0 && waitpid(workers[i], &status, 0) == workers[i] &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			printf("FAIL worker %d ended abnormally (status %d)\n", i, status);
			failures++;
		}
		workers[i] = -1;
		if (results[i].setup_failed) {
			printf("FAIL worker %d could not set up or check\n", i);
			failures++;
		}
	}
}

/* ---- judging ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The most admissions any W window held, over the admitted times given. */
static int busiest_window(int64_t *t, size_t n)
{
	int best = 0;
	qsort(t, n, sizeof *t, cmp_i64);
	for (size_t i = 0, j = 0; i < n; i++) {
		while (j < n && t[j] < t[i] + WINDOW_MS)
			j++;
		if ((int)(j - i) > best)
			best = (int)(j - i);
	}
	return best;
}

static int64_t times[WORKERS * MAX_RECORDS];

/* Shared admissions (both workers) whose verdict arrived in [from, to), by Redis time. */
static size_t shared_admissions(int64_t from, int64_t to)
{
	size_t n = 0;
	for (int w = 0; w < WORKERS; w++)
		for (size_t i = 0; i < results[w].n; i++) {
			const struct record *r = &results[w].rec[i];
			if (r->shared && r->outcome == LIMIT_ALLOW && r->client_ms >= from && r->client_ms < to)
				times[n++] = r->decided_ms;
		}
	return n;
}

struct tally {
	size_t total, shared, unavailable, local_allow, local_deny, bad_retry;
};

static struct tally count(int w, int64_t from, int64_t to)
{
	struct tally t = { 0 };
	for (size_t i = 0; i < results[w].n; i++) {
		const struct record *r = &results[w].rec[i];
		if (r->client_ms < from || r->client_ms >= to)
			continue;
		t.total++;
		if (r->shared)
			t.shared++;
		else if (r->outcome == LIMIT_UNAVAILABLE)
			t.unavailable++;
		else if (r->outcome == LIMIT_ALLOW)
			t.local_allow++;
		else
			t.local_deny++;
		if (r->outcome != LIMIT_ALLOW && (r->retry_after_s < 1 || r->retry_after_s > 5))
			t.bad_retry++;
	}
	return t;
}

/* ---- the phases ---- */

static void phase_shared(int port)
{
	printf("# two limiters, one principal, %d per %d ms, SCRIPT FLUSH at 3 s\n", LIMIT, WINDOW_MS);
	int64_t start = realtime_ms();
	start_workers(port, NULL, 0, LIMITER_FAIL_CLOSED, "hammer-shared", 6000);
	sleep_until(start + 3000);
	redisReply *r = command(port, NULL, 0, "SCRIPT FLUSH", NULL);
	CHECK(r && r->type == REDIS_REPLY_STATUS, "SCRIPT FLUSH sent mid-run");
	freeReplyObject(r);
	wait_workers();

	size_t n = shared_admissions(0, INT64_MAX);
	int busiest = busiest_window(times, n);
	struct tally a = count(0, 0, INT64_MAX), b = count(1, 0, INT64_MAX);
	printf("# admitted %zu of %zu requests (worker 0: %zu verdicts, worker 1: %zu); busiest %d ms "
	       "window: %d\n", n, a.total + b.total, a.total, b.total, WINDOW_MS, busiest);
	CHECK(busiest <= LIMIT, "no %d ms window admitted more than %d across both (busiest: %d)",
	      WINDOW_MS, LIMIT, busiest);
	CHECK(busiest == LIMIT, "and the limit was reached (the test has teeth)");
	CHECK(n >= 2 * LIMIT && n <= 4 * LIMIT, "6 s of hammering admitted %zu (expected 60: 20 per 2 s)", n);
	CHECK(a.shared == a.total && b.shared == b.total && a.total > 300 && b.total > 300,
	      "every verdict came from Redis, none unavailable (%zu + %zu)", a.shared, b.shared);
	uint64_t reloads = results[0].stats.noscript_reloads + results[1].stats.noscript_reloads;
	CHECK(reloads >= 1, "NOSCRIPT after the flush was answered by reloading (%" PRIu64 " reloads)",
	      reloads);
}

static void phase_outage(int port, enum limiter_fail_mode mode)
{
	const char *name = mode == LIMITER_FAIL_CLOSED ? "closed" : "local";
	printf("# fail mode %s: Redis killed at 2 s, restarted at 4.5 s, run 9 s\n", name);
	int64_t start = realtime_ms();
	start_workers(port, NULL, 0, mode, mode == LIMITER_FAIL_CLOSED ? "hammer-closed" : "hammer-local",
	              9000);
	sleep_until(start + 2000);
	int64_t killed = realtime_ms();
	stop_redis();
	sleep_until(start + 4500);
	int64_t restarted = realtime_ms();
	if (start_redis(port, NULL) != 0) {
		printf("FAIL could not restart redis-server\n");
		failures++;
	}
	wait_workers();

	for (int w = 0; w < WORKERS; w++) {
		struct tally before = count(w, 0, killed);
		struct tally down = count(w, killed + 200, restarted);
		struct tally after = count(w, restarted, INT64_MAX);
		printf("# worker %d: before %zu (%zu shared); down %zu (%zu unavailable, %zu/%zu local "
		       "allow/deny); after %zu (%zu shared); reconnects %" PRIu64 "\n", w, before.total,
		       before.shared, down.total, down.unavailable, down.local_allow, down.local_deny,
		       after.total, after.shared, results[w].stats.reconnects);
		CHECK(before.total > 100 && before.shared == before.total,
		      "%s w%d: all shared before the kill", name, w);
		if (mode == LIMITER_FAIL_CLOSED)
			CHECK(down.total > 100 && down.unavailable == down.total && down.bad_retry == 0,
			      "%s w%d: every verdict while Redis is down is 503 with Retry-After 1..5 s", name, w);
		else
			CHECK(down.total > 100 && down.local_allow + down.local_deny == down.total &&
			      down.local_allow >= LIMIT && down.local_deny > 0,
			      "%s w%d: while Redis is down the embedded limiter decides (%zu allowed)", name,
			      w, down.local_allow);
		CHECK(after.shared > 50 && results[w].rec[results[w].n - 1].shared,
		      "%s w%d: shared verdicts resumed without restarting the limiter", name, w);
		CHECK(results[w].stats.reconnects >= 2, "%s w%d: reconnected (%" PRIu64 " links)", name, w,
		      results[w].stats.reconnects);
		if (mode == LIMITER_FAIL_LOCAL) {
			/* Locally each replica keeps the limit on its own clock. */
			size_t n = 0;
			for (size_t i = 0; i < results[w].n; i++)
				if (!results[w].rec[i].shared && results[w].rec[i].outcome == LIMIT_ALLOW)
					times[n++] = results[w].rec[i].decided_ms;
			int busiest = busiest_window(times, n);
			CHECK(busiest <= LIMIT, "local w%d: no window over %d on the embedded limiter (%d)",
			      w, LIMIT, busiest);
		}
	}
	size_t n = shared_admissions(restarted, INT64_MAX);
	int busiest = busiest_window(times, n);
	CHECK(n >= LIMIT && busiest <= LIMIT,
	      "%s: after the restart, shared limiting across both again (%zu admitted, busiest %d)",
	      name, n, busiest);
}

/* A Redis that accepts connections but never answers (SIGSTOP): hiredis alone would wait
 * forever; the limiter's watchdog must turn overdue replies and handshakes into fail-mode
 * verdicts, and find Redis again after SIGCONT. */
static void phase_stall(int port)
{
	printf("# fail mode closed: Redis stopped (SIGSTOP) at 1.5 s, continued at 4 s, run 7 s\n");
	int64_t start = realtime_ms();
	start_workers(port, NULL, 0, LIMITER_FAIL_CLOSED, "hammer-stall", 7000);
	sleep_until(start + 1500);
	int64_t stopped = realtime_ms();
	kill(redis_pid, SIGSTOP);
	sleep_until(start + 4000);
	int64_t continued = realtime_ms();
	kill(redis_pid, SIGCONT);
	wait_workers();
	for (int w = 0; w < WORKERS; w++) {
		struct tally before = count(w, 0, stopped);
		struct tally stall = count(w, stopped + 1000, continued);
		struct tally after = count(w, continued, INT64_MAX);
		printf("# worker %d: before %zu (%zu shared); stalled %zu (%zu unavailable); after %zu "
		       "(%zu shared)\n", w, before.total, before.shared, stall.total, stall.unavailable,
		       after.total, after.shared);
		CHECK(before.total > 50 && before.shared == before.total, "stall w%d: shared before", w);
		CHECK(stall.total > 100 && stall.unavailable == stall.total && stall.bad_retry == 0,
		      "stall w%d: requests are answered 503 while Redis hangs, not held", w);
		CHECK(after.shared > 50 && results[w].rec[results[w].n - 1].shared,
		      "stall w%d: shared again after SIGCONT", w);
	}
}

static void on_one(const struct limit_verdict *v, void *arg)
{
	*(struct limit_verdict *)arg = *v;
}

/* One limiter in this process: AUTH + SELECT reach the right database; a wrong password
 * never gets a link. */
static void phase_auth(void)
{
	int port = free_port();
	printf("# AUTH and SELECT against redis-server --requirepass\n");
	if (start_redis(port, "pw-for-test") != 0) {
		printf("FAIL could not start redis-server with a password\n");
		failures++;
		return;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		bool right = attempt == 0;
		struct limiter_config cfg;
		char err[256];
		struct event_base *base = event_base_new();
		limiter_config_defaults(&cfg);
		snprintf(cfg.redis_host, sizeof cfg.redis_host, "127.0.0.1");
		cfg.redis_port = (uint16_t)port;
		cfg.redis_db = 5;
		snprintf(cfg.redis_password, sizeof cfg.redis_password, "%s", right ? "pw-for-test" : "wrong");
		struct limiter *l = limiter_new(base, &cfg, err, sizeof err);
		struct timeval settle = { 0, 500000 };
		event_base_loopexit(base, &settle);
		event_base_dispatch(base);
		struct limit_verdict v = { .outcome = LIMIT_UNAVAILABLE };
		struct limiter_rule rule = limiter_default_rule(l);
		limiter_check(l, "auth-tester", &rule, 1, on_one, &v);
		struct timeval wait = { 0, 300000 };
		event_base_loopexit(base, &wait);
		event_base_dispatch(base);
		if (right) {
			CHECK(limiter_redis_up(l) && v.outcome == LIMIT_ALLOW && v.shared && v.limit == 1000 &&
			      v.remaining == 999, "right password: shared verdict, remaining 999");
			redisReply *r = command(port, "pw-for-test", 5, "EXISTS %s", "mcpgate:rl:{auth-tester}");
			CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1,
			      "the window's key is in database 5");
			freeReplyObject(r);
			r = command(port, "pw-for-test", 0, "EXISTS %s", "mcpgate:rl:{auth-tester}");
			CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0, "and not in database 0");
			freeReplyObject(r);
			r = command(port, "pw-for-test", 5, "PTTL %s", "mcpgate:rl:{auth-tester}");
			CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer > 50000 && r->integer <= 60000,
			      "the key expires with its window (PTTL %lld)", r ? r->integer : -1);
			freeReplyObject(r);
		} else {
			CHECK(!limiter_redis_up(l) && v.outcome == LIMIT_UNAVAILABLE && !v.shared,
			      "wrong password: no link, fail closed (503)");
		}
		limiter_free(l);
		event_base_free(base);
	}
	stop_redis();
}

static void cleanup(void)
{
	for (int i = 0; i < WORKERS; i++)
		if (workers[i] > 0)
			kill(workers[i], SIGKILL);
	stop_redis();
	rmdir(redis_dir);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL limiter_redis timed out\n";
	if (write(1, msg, sizeof msg - 1) < 0)
		_exit(3);
	cleanup();
	_exit(1);
}

int main(void)
{
	log_init("limiter_redis");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(redis_dir)) {
		perror("mkdtemp");
		return 2;
	}
	atexit(cleanup);
	signal(SIGALRM, on_alarm);
	alarm(100);
	results = mmap(NULL, sizeof *results * WORKERS, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (results == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	int port = free_port();
	int rc = start_redis(port, NULL);
	if (rc == 77) {
		printf("SKIP redis-server is not installed\n");
		return 77;
	}
	if (rc != 0) {
		printf("FAIL could not start redis-server on 127.0.0.1:%d\n", port);
		return 1;
	}
	phase_shared(port);
	phase_outage(port, LIMITER_FAIL_CLOSED);
	phase_outage(port, LIMITER_FAIL_LOCAL);
	phase_stall(port);
	stop_redis();
	phase_auth();
	return check_finish();
}
