#!/usr/bin/env bash
# Writes a development setup under BUILD/dev once: a self-signed ECDSA certificate, a config
# mounting the four built-in servers, and a development API key (printed once, kept in
# BUILD/dev/api-key with mode 0600).
set -euo pipefail
build=${1:-build}
dev="$build/dev"
mkdir -p "$dev"
chmod 0700 "$dev"

if [ ! -f "$dev/cert.pem" ] || [ ! -f "$dev/key.pem" ]; then
	umask 077
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
		-subj "/CN=mcpgate development" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
		-addext "basicConstraints=critical,CA:FALSE" \
		-keyout "$dev/key.pem" -out "$dev/cert.pem" 2>/dev/null
	chmod 0644 "$dev/cert.pem"
fi

if [ ! -f "$dev/config.json" ]; then
	cat > "$dev/config.json" <<'JSON'
{
  "listen": [ { "address": "127.0.0.1:8443", "tls": true } ],
  "tls": { "certificate": "cert.pem", "key": "key.pem" },
  "public_url": "https://127.0.0.1:8443",
  "auth": { "keys_file": "keys.json" },
  "servers": [
    { "name": "data", "builtin": "data",
      "settings": { "s3": { "buckets": ["mcpgate-dev-*"], "write_buckets": ["mcpgate-dev-scratch"] },
                    "dynamodb": { "tables": ["mcpgate-dev-*"], "write_tables": [] },
                    "knowledge_bases": { "ids": [] } } },
    { "name": "ai", "builtin": "ai",
      "settings": { "specialists": [ { "name": "general", "model": "anthropic.claude-3-5-haiku-20241022-v1:0",
                                       "description": "General questions",
                                       "system": "You are a concise, careful assistant.", "max_tokens": 1024 } ],
                    "default": "general" } },
    { "name": "ops", "builtin": "ops",
      "settings": { "functions": ["mcpgate-dev-*"], "queues": ["mcpgate-dev-*"] } },
    { "name": "secrets", "builtin": "secrets",
      "settings": { "secrets": ["mcpgate/dev/*"], "reveal_roles": ["admin"] } }
  ],
  "log": { "level": "info" }
}
JSON
fi

if [ ! -f "$dev/api-key" ]; then
	key=$("$build/supervisor/mcpgate" keygen --client dev --roles admin \
		--keys-file "$dev/keys.json" --key-out "$dev/api-key" 2>/dev/null)
	cat <<MSG

  Development API key (shown once; also saved in $dev/api-key, mode 0600):

    $key

  Try it:
    curl --cacert $dev/cert.pem -H "X-API-Key: \$(cat $dev/api-key)" \\
      -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\
      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \\
      https://127.0.0.1:8443/mcp

MSG
else
	echo "mcpgate: development API key in $dev/api-key; certificate $dev/cert.pem"
fi
