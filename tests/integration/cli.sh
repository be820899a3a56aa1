#!/usr/bin/env bash
# The operator's commands: keygen prints a key once and stores only its hash, with mode 0600;
# version and usage behave.
. "$(dirname "$0")/lib.sh"
keys="$WORK/keys.json"
key=$("$MCPGATE" keygen --client ci-bot --roles reader,writer --rpm 120 --expires 2099-12-31 \
	--keys-file "$keys" 2>"$WORK/keygen.err")
check "keygen exits 0" test $? -eq 0
check "key has the mcpg_<16 hex>_<64 hex> form" grep -qE '^mcpg_[0-9a-f]{16}_[0-9a-f]{64}$' <<<"$key"
secret=${key##*_}
check "keys file is mode 0600" test "$(stat -c %a "$keys")" = 600
check "keys file never holds the secret" bash -c "! grep -q '$secret' '$keys'"
check "keys file holds the secret's SHA-256" grep -q "$(printf %s "$secret" | sha256sum | cut -c1-64)" "$keys"
check "record names client, roles, rpm, expiry" bash -c \
	"grep -q '\"client\": \"ci-bot\"' '$keys' && grep -q '\"rpm\": 120' '$keys' && grep -q 2099-12-31 '$keys'"
key2=$("$MCPGATE" keygen --client second --roles reader --keys-file "$keys" 2>/dev/null)
check "a second key is appended, not overwriting" test "$(grep -c '"id"' "$keys")" -eq 2
check "keys differ" test "$key" != "$key2"
"$MCPGATE" keygen --client 'bad name!' --roles r --keys-file "$keys" >/dev/null 2>&1
check "keygen refuses a bad client name (exit 64)" test $? -eq 64
"$MCPGATE" keygen --client ok --roles r --expires tomorrow --keys-file "$keys" >/dev/null 2>&1
check "keygen refuses a bad date (exit 64)" test $? -eq 64
check "version prints the version" bash -c "'$MCPGATE' version | grep -qE '^mcpgate [0-9]+\.[0-9]+\.[0-9]+$'"
"$MCPGATE" frobnicate >/dev/null 2>&1
check "unknown command exits 64" test $? -eq 64
finish
