/* `mcpgate-server-secrets --fetch-secret NAME`: the appliance's configuration from Secrets
 * Manager at start-up, for a supervisor that never links libcurl. One GetSecretValue (the
 * credential chain, retries), the SecretString on stdout, and nothing of it in the log. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "aws/service.h"
#include "log.h"
#include "secrets.h"
#include "secrets_json.h"

/* Per attempt; and the whole fetch, credentials included, ends before the supervisor's 30 s
 * run out, so that it is this program that says why it failed. */
#define FETCH_ATTEMPT_TIMEOUT_MS 8000L
#define FETCH_DEADLINE_S 25

struct fetch {
	const char *name;
	struct event_base *base;
	int rc;
};

static void fetch_failed(struct fetch *f, const char *reason);

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct fetch *f = arg;
	fetch_failed(f, "no answer within the fetch deadline (credentials, network or throttling)");
	event_base_loopbreak(f->base);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fetch_failed(struct fetch *f, const char *reason)
{
	log_error("secret_fetch_failed", LOG_STR("secret", f->name), LOG_STR("reason", reason));
	f->rc = 1;
}

static void fetched(const struct aws_result *res, void *arg)
{
	struct fetch *f = arg;
	event_base_loopbreak(f->base);
	if (!res->ok) {
		/* AWS's code and message name the failure, never the value. */
		log_error("secret_fetch_failed", LOG_STR("secret", f->name), LOG_STR("service", res->service),
		          LOG_STR("code", res->code), LOG_STR("message", res->message),
		          LOG_INT("attempts", res->attempts));
		f->rc = 1;
		return;
	}
	struct secret_value v;
	char err[512];
	if (secret_value_parse(res->body, res->body_len, &v, err, sizeof err) != 0) {
		fetch_failed(f, err);
		return;
	}
	if (!v.string) {
		fetch_failed(f, "the secret is binary; a configuration must be a SecretString");
	} else if (write_all(STDOUT_FILENO, v.string, v.string_len) != 0) {
		fetch_failed(f, "writing the secret to stdout failed");
	} else {
		log_info("secret_fetched", LOG_STR("secret", f->name), LOG_INT("bytes", (long long)v.string_len));
		f->rc = 0;
	}
	secret_value_free(&v);
}

int secrets_fetch_main(int argc, char **argv)
{
	log_init("secrets-fetch");
	if (argc != 3 || !secret_id_valid(argv[2])) {
		log_error("fetch_usage", LOG_STR("usage", "mcpgate-server-secrets --fetch-secret NAME"),
		          LOG_STR("reason", argc != 3 ? "one secret name or ARN expected"
		                  : "not a secret name or ARN (A-Z a-z 0-9 / _ + = . @ - :, at most 2048)"));
		return EXIT_USAGE;
	}
	/* A reader that went away is a failed fetch (EPIPE), not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	struct fetch f = { .name = argv[2], .rc = 1 };
	f.base = event_base_new();
	const struct aws_client_options opt = { .timeout_ms = FETCH_ATTEMPT_TIMEOUT_MS };
	struct aws_client *c = f.base ? aws_client_new(f.base, &opt) : NULL;
	if (!c) {
		fetch_failed(&f, "out of memory");
	} else {
		/* No check up front: a missing region or credentials (or a container / instance
		 * credential fetch still under way) is reported, or resolved, through the call. */
		json_t *body = json_pack("{s:s}", "SecretId", f.name);
		struct aws_op *op = body ? aws_call_json(c, &AWS_SECRETS_MANAGER, "1.1",
		                                         "secretsmanager.GetSecretValue", body,
		                                         SECRETS_VALUE_RESPONSE_MAX, fetched, &f) : NULL;
		json_decref(body);
		struct event *deadline = op ? evtimer_new(f.base, on_deadline, &f) : NULL;
		struct timeval tv = { FETCH_DEADLINE_S, 0 };
		if (deadline && evtimer_add(deadline, &tv) == 0)
			event_base_dispatch(f.base);
		else
			fetch_failed(&f, "the GetSecretValue request could not be built");
		if (deadline)
			event_free(deadline);
	}
	aws_client_free(c);
	if (f.base)
		event_base_free(f.base);
	return f.rc;
}
