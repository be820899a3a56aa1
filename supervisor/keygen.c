/* API key generation. The secret has 256 bits of entropy, so a plain SHA-256 is the right
 * verifier: no slow KDF is needed, and auth checks a key with one hash per request. */
#include "keygen.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define KEY_ID_BYTES 8
#define KEY_SECRET_BYTES 32

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int fill_random(unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int valid_client_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '@'))
			return 0;
	}
	return 1;
}

static json_t *load_or_new(const char *path)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		if (access(path, F_OK) == 0) {
			fprintf(stderr, "mcpgate keygen: %s:%d:%d: %s\n", path, jerr.line, jerr.column,
			        jerr.text);
			return NULL;
		}
		doc = json_pack("{s:[]}", "keys");
	}
	if (!json_is_array(json_object_get(doc, "keys"))) {
		fprintf(stderr, "mcpgate keygen: %s: at $.keys: must be an array\n", path);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* Writes beside the target and renames, so a crash never leaves a half-written keys file. */
static int save_atomically(const char *path, json_t *doc)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	size_t len = text ? strlen(text) : 0;
	int ok = text && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
	         fsync(fd) == 0;
	free(text);
	if (close(fd) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mcpgate keygen --client NAME --roles ROLE[,ROLE...] [--rpm N]\n"
		"                      [--expires YYYY-MM-DD] [--keys-file FILE] [--key-out FILE]\n"
		"Prints a new API key once and appends its record (never the key) to FILE.\n");
}

int keygen_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client", required_argument, NULL, 'c' },
		{ "roles", required_argument, NULL, 'r' },
		{ "rpm", required_argument, NULL, 'm' },
		{ "expires", required_argument, NULL, 'e' },
		{ "keys-file", required_argument, NULL, 'f' },
		{ "key-out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *client = NULL, *roles = NULL, *expires = NULL, *file = "keys.json";
	const char *key_out = NULL;
	long rpm = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': client = optarg; break;
		case 'r': roles = optarg; break;
		case 'e': expires = optarg; break;
		case 'f': file = optarg; break;
		case 'o': key_out = optarg; break;
		case 'm': {
			char *end;
			errno = 0;
			rpm = strtol(optarg, &end, 10);
			if (errno || *end || rpm < 1 || rpm > 100000000) {
				fprintf(stderr, "mcpgate keygen: --rpm must be a whole number from 1 to 100000000\n");
				return EXIT_USAGE;
			}
			break;
		}
		default: usage(); return c == 'h' ? 0 : EXIT_USAGE;
		}
	}
	if (!client || !roles || optind != argc) {
		usage();
		return EXIT_USAGE;
	}
	if (!valid_client_name(client)) {
		fprintf(stderr, "mcpgate keygen: --client must be 1-64 of [A-Za-z0-9._@-]\n");
		return EXIT_USAGE;
	}
	if (expires) {
		struct tm tm = { 0 };
		const char *end = strptime(expires, "%Y-%m-%d", &tm);
		if (!end || *end) {
			fprintf(stderr, "mcpgate keygen: --expires must be a date like 2027-01-31\n");
			return EXIT_USAGE;
		}
	}
	json_t *role_list = json_array();
	char *roles_copy = strdup(roles);
	for (char *save = NULL, *r = strtok_r(roles_copy, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		if (!valid_client_name(r)) {
			fprintf(stderr, "mcpgate keygen: role '%s' is not a valid name\n", r);
			free(roles_copy);
			json_decref(role_list);
			return EXIT_USAGE;
		}
		json_array_append_new(role_list, json_string(r));
	}
	free(roles_copy);

	unsigned char id[KEY_ID_BYTES], secret[KEY_SECRET_BYTES], digest[32];
	char id_hex[2 * KEY_ID_BYTES + 1], secret_hex[2 * KEY_SECRET_BYTES + 1], digest_hex[65];
	if (fill_random(id, sizeof id) != 0 || fill_random(secret, sizeof secret) != 0) {
		fprintf(stderr, "mcpgate keygen: getrandom: %s\n", strerror(errno));
		json_decref(role_list);
		return EXIT_SYSCALL;
	}
	to_hex(id, sizeof id, id_hex);
	to_hex(secret, sizeof secret, secret_hex);
	mbedtls_sha256_ret((const unsigned char *)secret_hex, strlen(secret_hex), digest, 0);
	to_hex(digest, sizeof digest, digest_hex);

	json_t *doc = load_or_new(file);
	if (!doc) {
		json_decref(role_list);
		return EXIT_DATA;
	}
	char created[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_t *record = json_pack("{s:s, s:s, s:o, s:s, s:s}", "id", id_hex, "client", client,
	                           "roles", role_list, "hash", digest_hex, "created", created);
	if (rpm)
		json_object_set_new(record, "rpm", json_integer(rpm));
	if (expires)
		json_object_set_new(record, "expires", json_string(expires));
	json_array_append_new(json_object_get(doc, "keys"), record);
	if (save_atomically(file, doc) != 0) {
		fprintf(stderr, "mcpgate keygen: cannot write %s: %s\n", file, strerror(errno));
		json_decref(doc);
		return EXIT_SYSCALL;
	}
	json_decref(doc);

	char key[128];
	snprintf(key, sizeof key, "mcpg_%s_%s", id_hex, secret_hex);
	if (key_out) {
		int fd = open(key_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		size_t klen = strlen(key);
		if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, key, klen) != (ssize_t)klen ||
		    write(fd, "\n", 1) != 1 || close(fd) != 0) {
			fprintf(stderr, "mcpgate keygen: cannot write %s: %s\n", key_out, strerror(errno));
			return EXIT_SYSCALL;
		}
	}
	printf("%s\n", key);
	fprintf(stderr, "API key for client '%s' (id %s) written to %s. It is shown only once.\n",
	        client, id_hex, file);
	explicit_bzero(secret, sizeof secret);
	explicit_bzero(secret_hex, sizeof secret_hex);
	explicit_bzero(key, sizeof key);
	return 0;
}
