/* Child start-up shared by every role: HELLO in, config slice loaded, sandbox entered,
 * READY out. The HELLO is the whole contract between the supervisor and a child. */
#include "role.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "frame.h"
#include "log.h"
#include "sandbox.h"

#define HELLO_TIMEOUT_MS 10000
#define MAX_SANDBOX_PATHS 32

void role_start(struct role_context *rc, const char *role)
{
	memset(rc, 0, sizeof *rc);
	rc->role = role;
	rc->control_fd = ROLE_CONTROL_FD;
	if (fcntl(rc->control_fd, F_GETFD) < 0)
		fatal_exit(EXIT_USAGE, "no_control_channel",
			LOG_FIELDS_(LOG_STR("hint", "this program is started by the mcpgate supervisor")));

	uint8_t type = 0;
	char *meta = NULL, *body = NULL;
	size_t meta_len = 0, body_len = 0;
	if (channel_read_frame_blocking(rc->control_fd, HELLO_TIMEOUT_MS, &type, &meta, &meta_len,
	                                &body, &body_len) != 0 || type != FRAME_HELLO)
		fatal("hello_missing", LOG_INT("type", type));
	free(meta);

	json_error_t jerr;
	rc->hello = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
	free(body);
	if (!rc->hello || !json_is_object(rc->hello))
		fatal("hello_invalid", LOG_STR("reason", jerr.text));

	/* From here on, log lines carry the name the supervisor knows this child by. */
	const char *name = json_string_value(json_object_get(rc->hello, "name"));
	if (name)
		log_init(name);
	json_t *instance = json_object_get(rc->hello, "instance");
	rc->instance = json_is_integer(instance) ? (unsigned)json_integer_value(instance) : 0;

	struct config_error err;
	json_t *slice = json_object_get(rc->hello, "config");
	char source[64];
	snprintf(source, sizeof source, "<%s slice>", role);
	if (!json_is_object(slice) || config_from_json(slice, source, &rc->cfg, &err) != 0)
		fatal_exit(EXIT_CONFIG, "config_invalid",
			LOG_FIELDS_(LOG_STR("reason", slice ? err.text : "no config in hello")));

	enum log_level level;
	if (log_level_from_name(rc->cfg.log_level, &level) == 0)
		log_set_level(level);
}

int role_fd(const struct role_context *rc, const char *name)
{
	json_t *fd = json_object_get(json_object_get(rc->hello, "fds"), name);
	return json_is_integer(fd) ? (int)json_integer_value(fd) : -1;
}

size_t role_fds_with_prefix(const struct role_context *rc, const char *prefix,
                            const char **names, int *fds, size_t max)
{
	size_t n = 0, plen = strlen(prefix);
	const char *key;
	json_t *value;
	json_object_foreach(json_object_get(rc->hello, "fds"), key, value) {
		if (n < max && strncmp(key, prefix, plen) == 0 && json_is_integer(value)) {
			names[n] = key;
			fds[n] = (int)json_integer_value(value);
			n++;
		}
	}
	return n;
}

const char *role_data(const struct role_context *rc, const char *key)
{
	return json_string_value(json_object_get(json_object_get(rc->hello, "data"), key));
}

/* Fills a NULL-terminated array from a JSON array of strings; NULL when absent. */
static const char **path_list(json_t *array, const char **out)
{
	if (!json_is_array(array) || json_array_size(array) == 0)
		return NULL;
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(array, i, v) {
		if (json_is_string(v) && n < MAX_SANDBOX_PATHS)
			out[n++] = json_string_value(v);
	}
	out[n] = NULL;
	return out;
}

void role_enter_sandbox(struct role_context *rc)
{
	json_t *sb = json_object_get(rc->hello, "sandbox");
	if (!json_is_object(sb))
		fatal("sandbox_missing_from_hello");
	const char *read[MAX_SANDBOX_PATHS + 1], *rx[MAX_SANDBOX_PATHS + 1], *wr[MAX_SANDBOX_PATHS + 1];
	struct sandbox_spec spec = {
		.role = rc->role,
		.groups_text = json_string_value(json_object_get(sb, "groups")),
		.policy_text = json_string_value(json_object_get(sb, "policy")),
		.policy_name = json_string_value(json_object_get(sb, "policy_name")),
		.allow_tcp_connect = json_is_true(json_object_get(sb, "allow_tcp_connect")),
		.switch_user = json_is_true(json_object_get(sb, "switch_user")),
		.uid = (uid_t)json_integer_value(json_object_get(sb, "uid")),
		.gid = (gid_t)json_integer_value(json_object_get(sb, "gid")),
		.fs_read = path_list(json_object_get(sb, "fs_read"), read),
		.fs_read_exec = path_list(json_object_get(sb, "fs_read_exec"), rx),
		.fs_write = path_list(json_object_get(sb, "fs_write"), wr),
		.limits = {
			.nofile = (rlim_t)json_integer_value(json_object_get(sb, "nofile")),
			.no_core = true,
		},
		.debug = json_is_true(json_object_get(sb, "debug")),
	};
	if (!spec.groups_text || !spec.policy_text)
		fatal("sandbox_policy_missing");
	char err[512];
	if (sandbox_apply(&spec, err, sizeof err) != 0)
		fatal_exit(EXIT_SYSCALL, "sandbox_failed", LOG_FIELDS_(LOG_STR("reason", err)));
	log_debug("sandbox_entered", LOG_INT("landlock_abi", sandbox_landlock_abi()));
}

void role_report_ready(struct role_context *rc)
{
	if (channel_write_frame_blocking(rc->control_fd, FRAME_READY, 0, NULL, 0, NULL, 0) != 0)
		fatal_sys("ready_write");
}

void role_context_free(struct role_context *rc)
{
	config_free(&rc->cfg);
	json_decref(rc->hello);
	rc->hello = NULL;
}

struct role_control {
	struct role_context *rc;
	const struct role_control_ops *ops;
	void *arg;
	struct channel *ch;
};

static json_t *parse_json(const uint8_t *bytes, uint32_t len)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		log_warn("control_bad_json", LOG_STR("reason", jerr.text));
	return doc;
}

static void control_on_frame(struct channel *ch, const struct frame *f, void *arg)
{
	struct role_control *ctl = arg;
	switch (f->type) {
	case FRAME_CONFIG: {
		/* Same shape as HELLO: {"config": slice, "data": {...}}. */
		json_t *doc = parse_json(f->body, f->body_len);
		json_t *slice = json_object_get(doc, "config");
		struct config next;
		struct config_error err;
		if (json_is_object(slice) && config_from_json(slice, "<reloaded slice>", &next, &err) == 0) {
			config_free(&ctl->rc->cfg);
			ctl->rc->cfg = next;
			json_t *data = json_object_get(doc, "data");
			if (json_is_object(data))
				json_object_set(ctl->rc->hello, "data", data);
			enum log_level level;
			if (log_level_from_name(next.log_level, &level) == 0)
				log_set_level(level);
			if (ctl->ops->on_config)
				ctl->ops->on_config(slice, ctl->arg);
			log_info("config_applied");
		} else {
			log_error("config_rejected", LOG_STR("reason", slice ? err.text : "no config"));
		}
		json_decref(doc);
		break;
	}
	case FRAME_LINK: {
		json_t *meta = parse_json(f->meta, f->meta_len);
		const char *name = json_string_value(json_object_get(meta, "link"));
		int fd = channel_take_fd(ch);
		if (!name || fd < 0) {
			log_error("link_invalid", LOG_INT("fd", fd));
			if (fd >= 0)
				close(fd);
		} else if (ctl->ops->on_link) {
			ctl->ops->on_link(name, fd, ctl->arg);
		} else {
			close(fd);
		}
		json_decref(meta);
		break;
	}
	case FRAME_STATUS: {
		json_t *status = parse_json(f->body, f->body_len);
		if (status && ctl->ops->on_status)
			ctl->ops->on_status(status, ctl->arg);
		json_decref(status);
		break;
	}
	case FRAME_DRAIN:
		log_info("drain_requested");
		if (ctl->ops->on_drain)
			ctl->ops->on_drain(ctl->arg);
		else
			exit(0);
		break;
	default:
		log_warn("control_unexpected_frame", LOG_STR("type", frame_type_name(f->type)));
		break;
	}
}

static void control_on_close(struct channel *ch, const char *reason, void *arg)
{
	(void)ch;
	(void)arg;
	/* Without the supervisor nobody restarts peers or relays logs: leave now. */
	log_info("supervisor_gone", LOG_STR("reason", reason));
	exit(0);
}

static struct role_control ctl;

int role_control_send(uint8_t type, const char *meta, const char *body)
{
	if (!ctl.ch)
		return -1;
	return channel_send(ctl.ch, type, 0, 0, meta, meta ? strlen(meta) : 0, body,
	                    body ? strlen(body) : 0, -1);
}

void role_control_attach(struct role_context *rc, struct event_base *base,
                         const struct role_control_ops *ops, void *arg)
{
	static const struct channel_callbacks cb = {
		.on_frame = control_on_frame,
		.on_close = control_on_close,
	};
	ctl.rc = rc;
	ctl.ops = ops;
	ctl.arg = arg;
	ctl.ch = channel_new(base, rc->control_fd, "control", &cb, &ctl);
	if (!ctl.ch)
		fatal("control_channel");
}
