/* Session ids that any replica can open: the session object sealed with AES-256-GCM under
 * a key every replica shares (from the supervisor). A token says nothing readable and
 * cannot be forged or altered; auth binds it to the principal that created it. */
#ifndef MCPGATE_SESSION_TOKEN_H
#define MCPGATE_SESSION_TOKEN_H

#include <jansson.h>
#include <mbedtls/gcm.h>
#include <stddef.h>

#define SESSION_KEY_BYTES 32
#define SESSION_TOKEN_MAX 2048 /* longer presented tokens are refused unread */

struct session_sealer {
	mbedtls_gcm_context gcm; /* keyed once: no per-request key derivation */
};

int session_sealer_init(struct session_sealer *s, const unsigned char key[SESSION_KEY_BYTES]);
void session_sealer_free(struct session_sealer *s);

/* Seals a session object into a token "v1.<base64url>"; returns a malloc'd string or NULL. */
char *session_token_seal(struct session_sealer *s, const json_t *session);
/* Opens a token; returns the session object (new reference) or NULL if the token is
 * malformed, too long, altered or sealed under another key. */
json_t *session_token_open(struct session_sealer *s, const char *token, size_t len);

#endif
