#!/usr/bin/env bash
# OAuth against a real issuer: oauth2-mock-server (tests/node) on 127.0.0.1 with an RS256
# and an ES256 key, over HTTP and over HTTPS with a self-signed certificate; oauth-driver
# fetches its JWKS on a libevent loop with gateway/auth/jwks.c and verifies the issuer's
# tokens with gateway/auth/jwt.c (good, Cognito-shaped, refused, rotated keys).
# Usage: oauth_issuer.sh [BUILD]   (also run as a meson test)
. "$(dirname "$0")/lib.sh"
DRIVER="$BUILD/tests/integration/oauth-driver"
ISSUER_PIDS=()

stop_issuers() {
	for pid in "${ISSUER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	ISSUER_PIDS=()
}
trap 'stop_issuers; cleanup' EXIT

require_node22
[ -x "$DRIVER" ] || { not_ok "oauth-driver built at $DRIVER"; finish; }

# start_issuer VAR NAME [KEY CERT]: runs the issuer in the background (its PID kept for the
# exit trap) and sets VAR to its URL once it says it is listening (within 15 s).
start_issuer() {
	local var=$1 name=$2; shift 2
	"$NODE22" "$SOURCE/tests/integration/oauth_issuer.mjs" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	ISSUER_PIDS+=($!)
	local deadline=$((SECONDS + 15)) url
	while [ $SECONDS -lt $deadline ]; do
		url=$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$WORK/$name.out" 2>/dev/null | head -1)
		if [ -n "$url" ]; then
			printf -v "$var" '%s' "$url"
			return 0
		fi
		sleep 0.1
	done
	cat "$WORK/$name.err" >&2
	return 1
}

start_issuer PLAIN plain || { not_ok "oauth2-mock-server starts on 127.0.0.1"; finish; }
ok "oauth2-mock-server listening at $PLAIN"
if command -v openssl >/dev/null; then
	make_cert
	start_issuer TLS tls "$WORK/key.pem" "$WORK/cert.pem" ||
		{ not_ok "oauth2-mock-server starts with TLS"; finish; }
	ok "oauth2-mock-server listening at $TLS"
	timeout 120 "$DRIVER" "$PLAIN" "$TLS" "$WORK/cert.pem"
else
	skip "HTTPS issuer: no openssl to make a certificate"
	timeout 120 "$DRIVER" "$PLAIN"
fi
rc=$?
[ $rc -eq 0 ] || not_ok "oauth-driver exited $rc"
stop_issuers
finish
