/* libcurl's multi interface on libevent: curl tells us which sockets to watch and when its
 * next timeout is (on_socket, on_timer_update); libevent tells curl when they are ready. */
#include "http.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <mbedtls/platform_util.h>

#include "build_config.h"
#include "log.h"

#define DEFAULT_TIMEOUT_MS 10000L
#define FIRST_BODY_CAP 4096u

/* One socket curl asked us to watch. */
struct watched_socket {
	struct aws_http *http;
	curl_socket_t fd;
	struct event *ev;
	struct watched_socket *prev, *next;
};

struct aws_http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct aws_http_call *calls;
	size_t n_calls;
	struct watched_socket *sockets;
	char *ca_bundle; /* AWS_CA_BUNDLE; NULL: curl's default store */
};

struct aws_http_call {
	struct aws_http *http;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	size_t body_len;
	char *resp;
	size_t resp_len, resp_cap, max_response;
	bool too_big;
	long idle_timeout_ms;  /* 0: none */
	int64_t last_byte_ms;  /* monotonic: when a response byte last arrived (or the start) */
	curl_off_t bytes_seen;
	bool idle_expired;
	int (*on_data)(const void *chunk, size_t len, void *arg);
	void *data_arg;
	size_t streamed;
	bool aborted;
	char *resp_headers; /* AWS_HTTP_RESPONSE_HEADERS_MAX + 1, allocated on the first header */
	size_t resp_headers_len;
	char errbuf[CURL_ERROR_SIZE];
	aws_http_done_fn done;
	void *arg;
	struct aws_http_call *prev, *next;
};

static bool curl_ready;

static void wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	mbedtls_platform_zeroize(p, n);
	free(p);
}

/* curl_slist strings are ours to wipe: they may hold a token. */
static void wipe_slist(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next)
		if (l->data)
			mbedtls_platform_zeroize(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

static void call_unlink(struct aws_http_call *c)
{
	struct aws_http *h = c->http;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	h->n_calls--;
}

/* Detaches the call from curl and frees everything it held, wiping what may be secret. */
static void call_free(struct aws_http_call *c)
{
	if (c->easy) {
		curl_multi_remove_handle(c->http->multi, c->easy);
		curl_easy_cleanup(c->easy);
	}
	wipe_slist(c->headers);
	wipe_free(c->body, c->body_len);
	wipe_free(c->resp, c->resp_cap);
	wipe_free(c->resp_headers, c->resp_headers ? AWS_HTTP_RESPONSE_HEADERS_MAX + 1 : 0);
	mbedtls_platform_zeroize(c, sizeof *c);
	free(c);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* curl calls this at least once a second during a transfer: it ends one whose response has
 * been silent for longer than the idle limit. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)ultotal, (void)ulnow;
	struct aws_http_call *c = arg;
	int64_t now = now_ms();
	if (dlnow != c->bytes_seen) {
		c->bytes_seen = dlnow;
		c->last_byte_ms = now;
		return 0;
	}
	if (now - c->last_byte_ms <= c->idle_timeout_ms)
		return 0;
	c->idle_expired = true;
	return 1;
}

/* ---- completion ---- */

static void finish(struct aws_http_call *c, CURLcode code)
{
	struct aws_http_response resp = { 0 };
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp.status);
	resp.curl_code = (int)code;
	if (c->idle_expired) {
		resp.curl_code = CURLE_OPERATION_TIMEDOUT;
		resp.error = "no data arrived within the idle limit";
	} else if (c->too_big) {
		resp.curl_code = CURLE_FILESIZE_EXCEEDED;
		resp.error = "response larger than the limit";
	} else if (code != CURLE_OK) {
		resp.error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(code);
	}
	resp.body = c->resp ? c->resp : "";
	resp.body_len = c->resp_len;
	resp.headers = c->resp_headers ? c->resp_headers : "";
	resp.headers_len = c->resp_headers_len;
	resp.streamed = c->streamed;
	resp.aborted = c->aborted;
	call_unlink(c);
	if (c->done)
		c->done(&resp, c->arg);
	call_free(c);
}

static void process_done(struct aws_http *h)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct aws_http_call *c = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		if (c)
			finish(c, msg->data.result);
	}
}

/* ---- the glue: libevent events for curl's sockets and timer ---- */

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct watched_socket *ws = arg;
	struct aws_http *h = ws->http; /* ws may be freed inside socket_action */
	int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running = 0;
	curl_multi_socket_action(h->multi, fd, action, &running);
	process_done(h);
	if (running <= 0 && h->n_calls == 0)
		evtimer_del(h->timer);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct aws_http *h = arg;
	int running = 0;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	process_done(h);
}

static void socket_forget(struct aws_http *h, struct watched_socket *ws)
{
	if (ws->prev)
		ws->prev->next = ws->next;
	else
		h->sockets = ws->next;
	if (ws->next)
		ws->next->prev = ws->prev;
	event_free(ws->ev);
	free(ws);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	struct aws_http *h = userp;
	struct watched_socket *ws = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (ws) {
			curl_multi_assign(h->multi, fd, NULL);
			socket_forget(h, ws);
		}
		return 0;
	}
	short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (!ws) {
		ws = calloc(1, sizeof *ws);
		if (!ws)
			return -1;
		ws->http = h;
		ws->fd = fd;
		ws->ev = event_new(h->base, fd, kind, on_socket_event, ws);
		if (!ws->ev) {
			free(ws);
			return -1;
		}
		ws->next = h->sockets;
		if (h->sockets)
			h->sockets->prev = ws;
		h->sockets = ws;
		curl_multi_assign(h->multi, fd, ws);
	} else {
		event_del(ws->ev);
		event_assign(ws->ev, h->base, fd, kind, on_socket_event, ws);
	}
	return event_add(ws->ev, NULL) == 0 ? 0 : -1;
}

/* curl must not be re-entered from here: the timer only schedules on_timer. */
static int on_timer_update(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct aws_http *h = userp;
	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	return evtimer_add(h->timer, &tv) == 0 ? 0 : -1;
}

/* ---- bodies in and out ---- */

/* A successful answer goes to the sink as it arrives; the status is known by the time curl
 * delivers body bytes, so an error's body is still buffered whole for its parser. */
static bool stream_this(struct aws_http_call *c)
{
	if (!c->on_data)
		return false;
	long status = 0;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	return status >= 200 && status <= 299;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct aws_http_call *c = arg;
	size_t n = size * nmemb;
	if (n && stream_this(c)) {
		if (c->on_data(data, n, c->data_arg) != 0) {
			c->aborted = true;
			return 0; /* curl stops with CURLE_WRITE_ERROR */
		}
		c->streamed += n;
		return n;
	}
	if (n > c->max_response - c->resp_len) {
		c->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	if (c->resp_len + n + 1 > c->resp_cap) {
		size_t cap = c->resp_cap ? c->resp_cap : FIRST_BODY_CAP;
		while (cap < c->resp_len + n + 1)
			cap *= 2;
		if (cap > c->max_response + 1)
			cap = c->max_response + 1;
		char *p = malloc(cap);
		if (!p)
			return 0;
		if (c->resp_len)
			memcpy(p, c->resp, c->resp_len);
		wipe_free(c->resp, c->resp_cap);
		c->resp = p;
		c->resp_cap = cap;
	}
	memcpy(c->resp + c->resp_len, data, n);
	c->resp_len += n;
	c->resp[c->resp_len] = '\0';
	return n;
}

/* Keeps the raw header lines up to a cap; later ones are dropped, never the call. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct aws_http_call *c = arg;
	size_t n = size * nmemb;
	if (!c->resp_headers) {
		c->resp_headers = calloc(1, AWS_HTTP_RESPONSE_HEADERS_MAX + 1);
		if (!c->resp_headers)
			return n;
	}
	/* A new response (after a 100 Continue) replaces the previous header block. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		c->resp_headers_len = 0;
	size_t room = AWS_HTTP_RESPONSE_HEADERS_MAX - c->resp_headers_len;
	size_t take = n < room ? n : room;
	memcpy(c->resp_headers + c->resp_headers_len, data, take);
	c->resp_headers_len += take;
	c->resp_headers[c->resp_headers_len] = '\0';
	return n;
}

/* ---- public ---- */

struct aws_http *aws_http_new(struct event_base *base)
{
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_error("aws_http_init_failed", LOG_STR("what", "curl_global_init"));
			return NULL;
		}
		curl_ready = true;
	}
	struct aws_http *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->base = base;
	h->multi = curl_multi_init();
	h->timer = evtimer_new(base, on_timer, h);
	if (!h->multi || !h->timer) {
		log_error("aws_http_init_failed", LOG_STR("what", "multi handle or timer"));
		aws_http_free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_update);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	const char *ca = getenv("AWS_CA_BUNDLE");
	if (ca && ca[0]) {
		h->ca_bundle = strdup(ca);
		if (!h->ca_bundle) {
			aws_http_free(h);
			return NULL;
		}
		log_info("aws_ca_bundle", LOG_STR("path", h->ca_bundle));
	}
	return h;
}

void aws_http_free(struct aws_http *h)
{
	if (!h)
		return;
	while (h->calls) {
		struct aws_http_call *c = h->calls;
		call_unlink(c);
		call_free(c);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi); /* may still report sockets removed */
	while (h->sockets)
		socket_forget(h, h->sockets);
	if (h->timer)
		event_free(h->timer);
	free(h->ca_bundle);
	free(h);
}

struct event_base *aws_http_base(const struct aws_http *h)
{
	return h->base;
}

size_t aws_http_pending(const struct aws_http *h)
{
	return h->n_calls;
}

static bool valid_header_line(const char *line)
{
	const char *colon = strchr(line, ':');
	if (!colon || colon == line)
		return false;
	for (const char *p = line; *p; p++)
		if (*p == '\r' || *p == '\n')
			return false;
	return true;
}

static bool method_is(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

static int set_method(struct aws_http_call *c, const char *method)
{
	CURL *e = c->easy;
	bool with_body = c->body != NULL;
	if (method_is(method, "GET") && !with_body)
		return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
	if (method_is(method, "HEAD") && !with_body)
		return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : -1;
	if (!method_is(method, "POST") && !method_is(method, "PUT") && !method_is(method, "DELETE") &&
	    !method_is(method, "PATCH"))
		return -1;
	if (!method_is(method, "POST") && curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
		return -1;
	/* POST and PUT always carry a body, if empty (Content-Length: 0, as IMDS wants). */
	if (with_body || !method_is(method, "DELETE")) {
		if (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len) != CURLE_OK ||
		    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body ? c->body : "") != CURLE_OK)
			return -1;
	}
	return 0;
}

static int configure(struct aws_http_call *c, const struct aws_http_request *req)
{
	CURL *e = c->easy;
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	long connect_timeout = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : timeout;
	CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PRIVATE, (char *)c);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_TIMEOUT_MS, timeout);
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect_timeout);
	if (req->idle_timeout_ms > 0) {
		/* A stream that goes quiet, not one that is merely long, is a dead one. curl's own
		 * low-speed check averages over seconds of history; this watches the last byte. */
		SET(CURLOPT_XFERINFOFUNCTION, on_progress);
		SET(CURLOPT_XFERINFODATA, c);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, c);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, c);
	SET(CURLOPT_USERAGENT, "mcpgate/" MCPGATE_VERSION);
	SET(CURLOPT_HTTPHEADER, c->headers);
	if (req->no_proxy)
		SET(CURLOPT_PROXY, "");
	if (c->http->ca_bundle)
		SET(CURLOPT_CAINFO, c->http->ca_bundle);
#undef SET
	if (rc != CURLE_OK)
		return -1;
	return set_method(c, req->method);
}

struct aws_http_call *aws_http_start(struct aws_http *h, const struct aws_http_request *req,
                                     aws_http_done_fn done, void *arg)
{
	if (!h || !req || !req->method || !req->url || (req->n_headers && !req->headers) ||
	    req->n_headers > AWS_HTTP_MAX_HEADERS || (req->body_len && !req->body))
		return NULL;
	struct aws_http_call *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->http = h;
	c->done = done;
	c->arg = arg;
	c->max_response = req->max_response ? req->max_response : AWS_HTTP_DEFAULT_MAX_RESPONSE;
	c->idle_timeout_ms = req->idle_timeout_ms > 0 ? req->idle_timeout_ms : 0;
	c->last_byte_ms = now_ms();
	c->on_data = req->on_data;
	c->data_arg = req->data_arg;
	c->easy = curl_easy_init();
	bool ok = c->easy != NULL;
	/* No "Expect: 100-continue" round trip: AWS answers at once. */
	if (ok)
		ok = (c->headers = curl_slist_append(NULL, "Expect:")) != NULL;
	for (size_t i = 0; ok && i < req->n_headers; i++) {
		struct curl_slist *l = NULL;
		ok = req->headers[i] && valid_header_line(req->headers[i]) &&
		     (l = curl_slist_append(c->headers, req->headers[i])) != NULL;
		if (ok)
			c->headers = l;
	}
	if (ok && req->body) {
		c->body = malloc(req->body_len ? req->body_len : 1);
		ok = c->body != NULL;
		if (ok) {
			memcpy(c->body, req->body, req->body_len);
			c->body_len = req->body_len;
		}
	}
	ok = ok && configure(c, req) == 0;
	/* Linked before adding: curl_multi_add_handle may already call back into us. */
	if (ok) {
		c->next = h->calls;
		if (h->calls)
			h->calls->prev = c;
		h->calls = c;
		h->n_calls++;
		if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK) {
			call_unlink(c);
			ok = false;
		}
	}
	if (!ok) {
		if (c->easy) {
			curl_easy_cleanup(c->easy);
			c->easy = NULL;
		}
		call_free(c);
		return NULL;
	}
	return c;
}

void aws_http_cancel(struct aws_http_call *c)
{
	if (!c)
		return;
	call_unlink(c);
	call_free(c);
}
