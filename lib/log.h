/* One JSON object per line on stderr, with fixed keys: time, level, process, event,
 * and request_id where there is one. Secrets are never passed to these functions. */
#ifndef MCPGATE_LOG_H
#define MCPGATE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdnoreturn.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

enum log_field_type { LOG_FIELD_END, LOG_FIELD_STR, LOG_FIELD_INT };

struct log_field {
	const char *key;
	enum log_field_type type;
	const char *str;
	long long num;
};

#define LOG_STR(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_STR, .str = (v) })
#define LOG_INT(k, v) ((struct log_field){ .key = (k), .type = LOG_FIELD_INT, .num = (long long)(v) })

/* Exit codes, as s6 and sysexits do: the supervisor tells a bug from a failed call. */
enum exit_code {
	EXIT_USAGE = 64,   /* bad command line */
	EXIT_DATA = 65,    /* bad input data */
	EXIT_INTERNAL = 70, /* a bug: an impossible state */
	EXIT_SYSCALL = 71, /* a system call failed */
	EXIT_CONFIG = 78,  /* the configuration is wrong */
};

void log_init(const char *process);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_level_from_name(const char *name, enum log_level *out);
const char *log_process(void);

/* Writes one line; the field list ends with a LOG_FIELD_END entry (the macros add it). */
void log_emit(enum log_level level, const char *event, const char *request_id,
              const struct log_field *fields);

/* Appends `s` to `out` as the body of a JSON string (without quotes); returns bytes written,
 * truncating at `cap`. Used by every place that builds JSON by hand on a hot path. */
size_t json_escape(char *out, size_t cap, const char *s, size_t len);

#define LOG_FIELDS_(...) ((const struct log_field[]){ __VA_ARGS__ __VA_OPT__(,) { 0 } })
#define log_debug(event, ...) do { if (log_get_level() <= LOG_DEBUG) \
	log_emit(LOG_DEBUG, event, NULL, LOG_FIELDS_(__VA_ARGS__)); } while (0)
#define log_info(event, ...)  log_emit(LOG_INFO, event, NULL, LOG_FIELDS_(__VA_ARGS__))
#define log_warn(event, ...)  log_emit(LOG_WARN, event, NULL, LOG_FIELDS_(__VA_ARGS__))
#define log_error(event, ...) log_emit(LOG_ERROR, event, NULL, LOG_FIELDS_(__VA_ARGS__))
#define log_req(level, reqid, event, ...) log_emit(level, event, reqid, LOG_FIELDS_(__VA_ARGS__))

/* For impossible states and failed start-up calls: logs (with errno's text for fatal_sys)
 * and exits with a distinct code. */
noreturn void fatal_exit(enum exit_code code, const char *event, const struct log_field *fields);
#define fatal(event, ...) fatal_exit(EXIT_INTERNAL, event, LOG_FIELDS_(__VA_ARGS__))
#define fatal_sys(event, ...) fatal_exit(EXIT_SYSCALL, event, LOG_FIELDS_(LOG_STR("func", __func__), \
	LOG_STR("error", strerror(errno)) __VA_OPT__(,) __VA_ARGS__))

#endif
