/* Fuzzes session tokens: opening the input under a fixed key must never crash, and anything
 * it accepts must stop opening after any one-character change; and a session built from the
 * input must survive seal and open unchanged, and open under no other key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session_token.h"

/* Input bytes put into the built session: even escaped six-fold (\u0001) it stays well
 * within what a token can hold. */
#define ROUND_TRIP_INPUT_MAX 200

static struct session_sealer sealer, other;

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void init_once(void)
{
	static int done;
	if (done)
		return;
	unsigned char key[SESSION_KEY_BYTES];
	memset(key, 0x42, sizeof key); /* the corpus' valid tokens are sealed under this key */
	if (session_sealer_init(&sealer, key) != 0)
		abort();
	memset(key, 0x43, sizeof key);
	if (session_sealer_init(&other, key) != 0)
		abort();
	done = 1;
}

/* An accepted token is authentic; a forgery would have to survive this. */
static void check_accepted(const char *token, size_t len, json_t *session)
{
	if (!json_is_object(session) || len < 3 || memcmp(token, "v1.", 3) != 0)
		abort();
	char *copy = malloc(len);
	if (!copy)
		abort();
	memcpy(copy, token, len);
	for (size_t i = 3; i < len; i++) {
		const char *p = strchr(alphabet, token[i]);
		if (!p || !*p)
			abort();
		copy[i] = alphabet[(p - alphabet + 1) % 64];
		json_t *forged = session_token_open(&sealer, copy, len);
		if (forged)
			abort();
		copy[i] = token[i];
	}
	if (session_token_open(&other, token, len) != NULL)
		abort();
	free(copy);
}

/* The input as a JSON string: as text when it is UTF-8 without NUL, else as hex. */
static json_t *input_string(const uint8_t *data, size_t size)
{
	if (!memchr(data, '\0', size)) {
		json_t *s = json_stringn((const char *)data, size);
		if (s)
			return s;
	}
	char *hex = malloc(2 * size + 1);
	if (!hex)
		abort();
	for (size_t i = 0; i < size; i++) {
		hex[2 * i] = "0123456789abcdef"[data[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[data[i] & 15];
	}
	json_t *s = json_stringn(hex, 2 * size);
	free(hex);
	return s;
}

static void check_round_trip(const uint8_t *data, size_t size)
{
	if (size > ROUND_TRIP_INPUT_MAX)
		size = ROUND_TRIP_INPUT_MAX;
	json_t *session = json_pack("{s:o, s:I, s:[i]}", "sub", input_string(data, size),
	                            "n", (json_int_t)size, "caps", size ? data[0] : 0);
	if (!session)
		abort();
	char *token = session_token_seal(&sealer, session);
	if (!token)
		abort();
	size_t len = strlen(token);
	json_t *back = session_token_open(&sealer, token, len);
	if (!back || !json_equal(back, session))
		abort();
	json_decref(back);
	if (session_token_open(&other, token, len) != NULL)
		abort();
	json_decref(session);
	free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	json_t *session = session_token_open(&sealer, (const char *)data, size);
	if (session)
		check_accepted((const char *)data, size, session);
	json_decref(session);
	check_round_trip(data, size);
	return 0;
}
