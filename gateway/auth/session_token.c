/* Sealing and opening session tokens: v1.base64url(nonce[12] || ciphertext || tag[16]). */
#include "session_token.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define NONCE_BYTES 12
#define TAG_BYTES 16
#define PREFIX "v1."
static const unsigned char aad[] = "mcpgate-session-v1";

int session_sealer_init(struct session_sealer *s, const unsigned char key[SESSION_KEY_BYTES])
{
	mbedtls_gcm_init(&s->gcm);
	return mbedtls_gcm_setkey(&s->gcm, MBEDTLS_CIPHER_ID_AES, key, SESSION_KEY_BYTES * 8) == 0 ? 0 : -1;
}

void session_sealer_free(struct session_sealer *s)
{
	mbedtls_gcm_free(&s->gcm);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '-') return 62;
	if (c == '_') return 63;
	return -1;
}

/* Strict decoding: no padding, no stray bits in the last character. */
static int b64url_decode(const char *in, size_t n, unsigned char *out, size_t *out_len)
{
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	*out_len = o;
	return 0;
}

char *session_token_seal(struct session_sealer *s, const json_t *session)
{
	char *plain = json_dumps(session, JSON_COMPACT);
	if (!plain)
		return NULL;
	size_t plen = strlen(plain);
	size_t raw_len = NONCE_BYTES + plen + TAG_BYTES;
	unsigned char *raw = malloc(raw_len);
	char *token = malloc(sizeof PREFIX + (raw_len + 2) / 3 * 4 + 1);
	if (!raw || !token || getrandom(raw, NONCE_BYTES, 0) != NONCE_BYTES ||
	    mbedtls_gcm_crypt_and_tag(&s->gcm, MBEDTLS_GCM_ENCRYPT, plen, raw, NONCE_BYTES, aad,
	                              sizeof aad - 1, (const unsigned char *)plain, raw + NONCE_BYTES,
	                              TAG_BYTES, raw + NONCE_BYTES + plen) != 0) {
		free(plain);
		free(raw);
		free(token);
		return NULL;
	}
	memcpy(token, PREFIX, sizeof PREFIX - 1);
	b64url_encode(raw, raw_len, token + sizeof PREFIX - 1);
	free(plain);
	free(raw);
	if (strlen(token) > SESSION_TOKEN_MAX) {
		free(token);
		errno = E2BIG;
		return NULL;
	}
	return token;
}

json_t *session_token_open(struct session_sealer *s, const char *token, size_t len)
{
	size_t plen = sizeof PREFIX - 1;
	if (len > SESSION_TOKEN_MAX || len < plen || memcmp(token, PREFIX, plen) != 0)
		return NULL;
	unsigned char raw[SESSION_TOKEN_MAX];
	size_t raw_len;
	if (b64url_decode(token + plen, len - plen, raw, &raw_len) != 0 ||
	    raw_len < NONCE_BYTES + TAG_BYTES + 2)
		return NULL;
	size_t ct_len = raw_len - NONCE_BYTES - TAG_BYTES;
	unsigned char plain[SESSION_TOKEN_MAX];
	if (mbedtls_gcm_auth_decrypt(&s->gcm, ct_len, raw, NONCE_BYTES, aad, sizeof aad - 1,
	                             raw + NONCE_BYTES + ct_len, TAG_BYTES, raw + NONCE_BYTES,
	                             plain) != 0)
		return NULL;
	json_t *session = json_loadb((const char *)plain, ct_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(session)) {
		json_decref(session);
		return NULL;
	}
	return session;
}
