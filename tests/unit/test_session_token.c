/* Unit tests for session tokens: round trip, and refusal of every altered, truncated,
 * extended, foreign-key, over-long or non-canonically encoded token. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_token.h"

#include "check.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

/* Opens len bytes copied into an exact-size heap buffer; true if a session came back. */
static bool opens(struct session_sealer *s, const char *token, size_t len)
{
	char *copy = malloc(len ? len : 1);
	if (!copy)
		exit(2);
	memcpy(copy, token, len);
	json_t *session = session_token_open(s, copy, len);
	free(copy);
	bool ok = session != NULL;
	json_decref(session);
	return ok;
}

static void init(struct session_sealer *s, unsigned char fill)
{
	unsigned char key[SESSION_KEY_BYTES];
	memset(key, fill, sizeof key);
	if (session_sealer_init(s, key) != 0) {
		printf("FAIL sealer init\n");
		exit(1);
	}
}

static void test_round_trip(struct session_sealer *s, struct session_sealer *other)
{
	json_t *session = json_pack("{s:s, s:i, s:[s,s], s:{s:b}}", "sub", "alice", "v", 1,
	                            "roles", "admin", "ops", "caps", "sampling", 1);
	char *token = session_token_seal(s, session);
	CHECK(token != NULL && strncmp(token, "v1.", 3) == 0, "sealed token starts with v1.");
	size_t len = strlen(token);
	bool charset_ok = true;
	for (size_t i = 3; i < len; i++)
		charset_ok &= b64_value(token[i]) >= 0;
	CHECK(charset_ok && len <= SESSION_TOKEN_MAX && len % 4 != 1,
	      "token is unpadded base64url (%zu chars)", len);
	CHECK(strstr(token, "alice") == NULL, "nothing readable inside");
	json_t *back = session_token_open(s, token, len);
	CHECK(back != NULL && json_equal(back, session), "opens to the same object");
	json_decref(back);
	char *again = session_token_seal(s, session);
	CHECK(again != NULL && strcmp(again, token) != 0, "sealing twice gives different tokens (nonce)");
	CHECK(opens(s, again, strlen(again)), "the second token opens too");
	CHECK(!opens(other, token, len), "another key cannot open it");
	free(again);

	/* Any one character changed to any other character: refused. */
	int accepted = 0, cases = 0;
	char *copy = strdup(token);
	for (size_t i = 0; i < len; i++) {
		static const char others[] = "Aa0-_+/=.v";
		for (size_t k = 0; k < sizeof others - 1; k++) {
			if (token[i] == others[k])
				continue;
			copy[i] = others[k];
			accepted += opens(s, copy, len);
			cases++;
		}
		/* and the neighbour in the alphabet, which keeps the encoding valid */
		if (i >= 3) {
			copy[i] = alphabet[(b64_value(token[i]) + 1) % 64];
			accepted += opens(s, copy, len);
			cases++;
		}
		copy[i] = token[i];
	}
	CHECK(accepted == 0, "%d one-character alterations all refused", cases);
	accepted = 0;
	for (size_t cut = 0; cut < len; cut++)
		accepted += opens(s, token, cut);
	CHECK(accepted == 0, "every truncation refused");
	char *extended = malloc(len + 2);
	memcpy(extended, token, len);
	extended[len] = 'A';
	extended[len + 1] = 'A';
	CHECK(!opens(s, extended, len + 1) && !opens(s, extended, len + 2), "extended token refused");
	free(extended);
	free(copy);
	free(token);

	/* A sealed array is authentic but not a session. */
	json_t *array = json_pack("[i,i]", 1, 2);
	token = session_token_seal(s, array);
	CHECK(token != NULL && !opens(s, token, strlen(token)), "authentic non-object refused");
	free(token);
	json_decref(array);
	json_decref(session);
}

/* A token whose last base64 character carries stray bits: same bytes, other spelling. */
static void test_canonical(struct session_sealer *s)
{
	/* raw = 12 + plaintext + 16 bytes; choose the plaintext so raw % 3 == 1, leaving 4
	 * unused bits in the last character. */
	const char *pad = "";
	json_t *session = NULL;
	char *token = NULL;
	for (int extra = 0; extra < 3; extra++) {
		static const char *const pads[] = { "", "x", "xx" };
		pad = pads[extra];
		session = json_pack("{s:s}", "p", pad);
		char *plain = json_dumps(session, JSON_COMPACT);
		size_t raw = 12 + strlen(plain) + 16;
		free(plain);
		if (raw % 3 == 1)
			break;
		json_decref(session);
		session = NULL;
	}
	CHECK(session != NULL, "found a plaintext leaving stray bits");
	if (!session)
		return;
	token = session_token_seal(s, session);
	size_t len = strlen(token);
	CHECK((len - 3) % 4 == 2 && opens(s, token, len), "canonical token opens");
	int v = b64_value(token[len - 1]);
	CHECK(v >= 0 && v % 16 == 0, "last character has 4 unused zero bits");
	if (v >= 0) {
		char *odd = strdup(token);
		odd[len - 1] = alphabet[(v | 1) & 63];
		CHECK(!opens(s, odd, len), "same bytes with a stray low bit refused");
		odd[len - 1] = alphabet[(v | 8) & 63];
		CHECK(!opens(s, odd, len), "same bytes with a stray high bit refused");
		free(odd);
	}
	char *padded = malloc(len + 3);
	memcpy(padded, token, len);
	memcpy(padded + len, "==", 2);
	CHECK(!opens(s, padded, len + 2), "'=' padding refused");
	free(padded);
	free(token);
	json_decref(session);
}

static void test_refusals(struct session_sealer *s)
{
	CHECK(!opens(s, "", 0), "empty");
	CHECK(!opens(s, "v1.", 3), "prefix only");
	CHECK(!opens(s, "v2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 46), "other version");
	CHECK(!opens(s, "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 46), "well-formed garbage");
	CHECK(!opens(s, "v1.AAAAA", 8), "length %% 4 == 1");
	CHECK(session_token_open(s, NULL, 0) == NULL, "NULL, 0");

	/* Too long is refused without reading: the buffer is far shorter than the length. */
	char *tiny = malloc(8);
	memcpy(tiny, "v1.AAAAA", 8);
	CHECK(session_token_open(s, tiny, SESSION_TOKEN_MAX + 1) == NULL,
	      "length above SESSION_TOKEN_MAX refused unread");
	CHECK(session_token_open(s, tiny, (size_t)1 << 40) == NULL, "huge length refused unread");
	free(tiny);
	char *long_token = malloc(SESSION_TOKEN_MAX + 1);
	memcpy(long_token, "v1.", 3);
	memset(long_token + 3, 'A', SESSION_TOKEN_MAX - 2);
	CHECK(!opens(s, long_token, SESSION_TOKEN_MAX + 1), "%d characters refused", SESSION_TOKEN_MAX + 1);
	CHECK(!opens(s, long_token, SESSION_TOKEN_MAX), "%d characters of garbage refused", SESSION_TOKEN_MAX);
	free(long_token);

	/* A session too large to seal: NULL with E2BIG rather than a token nobody can open. */
	char big[1600];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	json_t *session = json_pack("{s:s}", "blob", big);
	errno = 0;
	char *token = session_token_seal(s, session);
	CHECK(token == NULL && errno == E2BIG, "over-long session not sealed (E2BIG)");
	free(token);
	json_decref(session);
	/* {"blob":"<n>"} is n + 11 bytes; sealed, 3 + base64(12 + n + 11 + 16) characters:
	 * n = 1494 gives 2047, the largest that fits; 1495 gives 2049. */
	big[1494] = '\0';
	session = json_pack("{s:s}", "blob", big);
	token = session_token_seal(s, session);
	CHECK(token != NULL && strlen(token) == 2047 && opens(s, token, strlen(token)),
	      "the largest sealable session round-trips");
	free(token);
	json_decref(session);
	big[1494] = 'z';
	big[1495] = '\0';
	session = json_pack("{s:s}", "blob", big);
	token = session_token_seal(s, session);
	CHECK(token == NULL, "one byte more is refused");
	free(token);
	json_decref(session);
}

int main(void)
{
	struct session_sealer s, other;
	init(&s, 0x42);
	init(&other, 0x43);
	test_round_trip(&s, &other);
	test_canonical(&s);
	test_refusals(&s);
	session_sealer_free(&s);
	session_sealer_free(&other);
	return check_finish();
}
