/* The standard AWS credential chain: environment keys, web identity (STS
 * AssumeRoleWithWebIdentity), the ECS/EKS container endpoint, EC2 IMDSv2. Temporary
 * credentials are cached and refreshed in the background, before they expire, through the
 * process's aws_http (libcurl multi on the libevent loop): nothing here blocks the loop. */
#ifndef MCPGATE_AWS_CREDENTIALS_H
#define MCPGATE_AWS_CREDENTIALS_H

#include <stdbool.h>
#include <time.h>

#include "http.h"
#include "sigv4.h"

#define AWS_KEY_ID_MAX 128
#define AWS_SECRET_MAX 128
#define AWS_TOKEN_MAX 8192

enum aws_cred_source {
	AWS_CRED_NONE,
	AWS_CRED_ENV,          /* AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN */
	AWS_CRED_WEB_IDENTITY, /* AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (EKS IRSA) */
	AWS_CRED_CONTAINER,    /* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI (ECS, EKS) */
	AWS_CRED_IMDS,         /* EC2 instance metadata, v2 (token) only */
};

struct aws_credentials {
	char access_key_id[AWS_KEY_ID_MAX + 1];
	char secret_access_key[AWS_SECRET_MAX + 1];
	char session_token[AWS_TOKEN_MAX + 1]; /* "" for long-term keys */
	time_t expiration;                     /* UTC; 0 for keys that do not expire */
	enum aws_cred_source source;
};

struct aws_cred_options {
	int refresh_margin_s; /* refresh this long before expiry; 0: 300 */
	int min_refresh_s;    /* never refresh sooner than this after a fetch; 0: 10 */
	int max_backoff_s;    /* retry after failures at most this far apart; 0: 60 */
	long timeout_ms;      /* per HTTP exchange; 0: 5000 (IMDS: 2000) */
};

struct aws_cred_stats {
	unsigned long attempts;  /* fetches started */
	unsigned long successes;
	unsigned long failures;
	time_t last_success;     /* wall clock */
};

struct aws_cred_provider;

/* Reads the environment now and picks the first configured source, in the order of the enum
 * (IMDS last, unless AWS_EC2_METADATA_DISABLED=true). A source that is configured but fails
 * does not fall through to the next: using an identity the operator did not intend is worse
 * than failing. Environment keys are ready at once; the others fetch on _wait or _current.
 * Endpoints: STS via aws_endpoint_url("STS", ...), IMDS at AWS_EC2_METADATA_SERVICE_ENDPOINT
 * (default http://169.254.169.254). Returns NULL on allocation failure or a malformed
 * configuration (logged, naming the variable). */
struct aws_cred_provider *aws_cred_provider_new(struct aws_http *http, const struct aws_cred_options *opt);
/* Cancels any fetch, wipes every secret. Free providers before their aws_http. */
void aws_cred_provider_free(struct aws_cred_provider *p);

enum aws_cred_source aws_cred_provider_source(const struct aws_cred_provider *p);
const char *aws_cred_source_name(enum aws_cred_source source);

/* For start-up only: runs the event loop (EVLOOP_ONCE at a time, so other events of the loop
 * are served too) until the first fetch ends or timeout_ms passes. Returns 0 when usable
 * credentials are held. The hot path never calls this; it uses _current. */
int aws_cred_provider_wait(struct aws_cred_provider *p, int timeout_ms);

/* The credentials to sign with now, or NULL when none are valid (never fetched, or expired
 * and every refresh failed). Never blocks; starts a fetch if one is due and none is running.
 * The pointer stays valid until control returns to the event loop: sign, then let go. */
const struct aws_credentials *aws_cred_provider_current(struct aws_cred_provider *p);

/* Called from the loop after every fetch, with whether it succeeded: lets a server resume
 * requests it parked while it had no credentials. It must not free the provider. */
typedef void (*aws_cred_update_fn)(void *arg, bool ok);
void aws_cred_provider_on_update(struct aws_cred_provider *p, aws_cred_update_fn fn, void *arg);

const struct aws_cred_stats *aws_cred_provider_stats(const struct aws_cred_provider *p);

static inline struct sigv4_credentials aws_credentials_sigv4(const struct aws_credentials *c)
{
	return (struct sigv4_credentials){ c->access_key_id, c->secret_access_key,
	                                   c->session_token[0] ? c->session_token : NULL };
}

#endif
