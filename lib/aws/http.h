/* Asynchronous HTTP for the AWS client: one libcurl multi handle driven by the process's
 * libevent loop, so credential refreshes and service calls never block the server. */
#ifndef MCPGATE_AWS_HTTP_H
#define MCPGATE_AWS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct aws_http;      /* one per event loop */
struct aws_http_call; /* one request in flight */

#define AWS_HTTP_MAX_HEADERS 32
#define AWS_HTTP_DEFAULT_MAX_RESPONSE (1024u * 1024u)
#define AWS_HTTP_RESPONSE_HEADERS_MAX (16u * 1024u)

struct aws_http_request {
	const char *method; /* "GET", "PUT", "POST", "DELETE", "HEAD" */
	const char *url;
	/* "Name: value" lines, n_headers of them. They may carry secrets (tokens): the copies
	 * libcurl makes are wiped when the call ends. */
	const char *const *headers;
	size_t n_headers;
	const void *body; /* copied; the copy is wiped when the call ends */
	size_t body_len;
	long timeout_ms;         /* the whole exchange; 0: 10 s */
	long connect_timeout_ms; /* 0: the whole timeout */
	long idle_timeout_ms;    /* give up when no byte arrives for this long; 0: no such limit */
	size_t max_response;     /* body bytes kept; more fails the call; 0: 1 MiB */
	bool no_proxy;           /* metadata endpoints are link-local: never through a proxy */
	/* Optional sink for the body of a 2xx answer: its chunks go here as they arrive instead
	 * of into the buffer (and max_response does not apply to them); the body of any other
	 * status is still buffered, so an error can be parsed. Return 0 to go on, -1 to abort the
	 * call (it then ends with CURLE_WRITE_ERROR and `aborted` set). The sink must not cancel
	 * the call itself. */
	int (*on_data)(const void *chunk, size_t len, void *arg);
	void *data_arg;
};

struct aws_http_response {
	long status;         /* HTTP status; 0 when no response arrived */
	int curl_code;       /* CURLcode; 0 when the exchange completed */
	const char *error;   /* curl's text when curl_code != 0 (no secrets: no headers in it) */
	const char *body;    /* NUL-terminated; valid only during the callback, then wiped */
	size_t body_len;
	const char *headers; /* raw response header lines, capped; valid only during the callback */
	size_t headers_len;
	size_t streamed;     /* body bytes handed to on_data */
	bool aborted;        /* on_data returned -1 */
};

/* Called once per call, from the event loop, unless the call was cancelled. The callback may
 * start new calls and cancel others, but must not free the aws_http. */
typedef void (*aws_http_done_fn)(const struct aws_http_response *resp, void *arg);

/* NULL on failure (logged). Initialises libcurl globally on first use. AWS_CA_BUNDLE, when
 * set, is read now: the CA file every call verifies servers against (verification stays on). */
struct aws_http *aws_http_new(struct event_base *base);
/* Cancels every call in flight (their callbacks are not called) and frees. */
void aws_http_free(struct aws_http *http);
struct event_base *aws_http_base(const struct aws_http *http);

/* Starts a call; NULL on a bad request or allocation failure (then `done` is never called). */
struct aws_http_call *aws_http_start(struct aws_http *http, const struct aws_http_request *req,
                                     aws_http_done_fn done, void *arg);
/* Stops a call in flight; its callback is not called. Not for a call whose callback ran. */
void aws_http_cancel(struct aws_http_call *call);
/* Calls in flight. */
size_t aws_http_pending(const struct aws_http *http);

#endif
