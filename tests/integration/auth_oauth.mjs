// The OAuth issuer for auth_oauth.sh: oauth2-mock-server on 127.0.0.1 with an RS256 and an
// ES256 key (its token endpoint alternates between them), plus one test-only route that
// builds the tokens a real issuer would never hand out, signed with node:crypto: with the
// issuer's own keys but wrong claims (expired, not yet valid, another iss or aud, ...), with
// a key of our own under the issuer's kid or an unknown one, as HS256 keyed with the issuer's
// public key, or unsigned. Prints {"issuer": ..., "port": ...} on one line once listening.
// Usage: node auth_oauth.mjs
import crypto from 'node:crypto';

// The pinned test toolchain lives in tests/node, which is not on this file's module path.
const { OAuth2Server, Events } = await import(
  new URL('../node/node_modules/oauth2-mock-server/dist/index.mjs', import.meta.url).href);

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.issuer.keys.generate('ES256');

// Token endpoint parameters beyond OAuth's (as oauth_issuer.mjs has them):
//   client_id -> "client_id" and "sub" claims (Cognito client-credentials tokens have both)
//   shape     -> "cognito-access" (no aud, token_use access, cognito:groups [admins])
//                "cognito-id" (aud = client_id, token_use id: an id token)
server.service.on(Events.BeforeTokenSigning, (token, req) => {
  const body = req.body ?? {};
  const p = token.payload;
  if (body.client_id) {
    p.client_id = body.client_id;
    p.sub = body.client_id;
  }
  if (body.shape === 'cognito-access') {
    delete p.aud;
    p.token_use = 'access';
    p['cognito:groups'] = ['admins'];
  } else if (body.shape === 'cognito-id') {
    p.aud = body.client_id;
    p.token_use = 'id';
  }
});

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const issuerKey = (alg) => server.issuer.keys.toJSON(true).find((k) => k.alg === alg);
const foreignKeys = {
  RS256: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ES256: crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
};

// sign(alg, key, input): the JWS signature of input; key is a KeyObject or, for HS256, bytes.
function sign(alg, key, input) {
  if (alg === 'none') return '';
  if (alg === 'HS256') return b64url(crypto.createHmac('sha256', key).update(input).digest());
  if (alg === 'RS256') return b64url(crypto.sign('sha256', Buffer.from(input), key));
  if (alg === 'ES256')
    return b64url(crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }));
  throw new Error(`cannot sign ${alg}`);
}

// POST /test/forge {"alg": "RS256"|"ES256", "key": "issuer"|"foreign"|"hs256-public"|"none",
//                   "header": {...}, "claims": {...}}
// The header starts as {alg, typ: "JWT", kid: <the issuer's kid for alg>} and the claims as a
// valid token's {iss, sub, client_id, aud (when given), iat, nbf, exp}; "header" and "claims"
// override them (a null value removes the field). Answers {"token": ...}.
server.service.addRoute('POST', '/test/forge', async (req, res) => {
  const body = req.body ?? {};
  const alg = body.alg ?? 'RS256';
  const jwk = issuerKey(alg);
  const now = Math.floor(Date.now() / 1000);
  const mode = body.key ?? 'issuer';
  const signAlg = mode === 'hs256-public' ? 'HS256' : mode === 'none' ? 'none' : alg;
  const header = { alg: signAlg, typ: 'JWT', kid: jwk.kid, ...(body.header ?? {}) };
  const claims = { iss: server.issuer.url, sub: 'forge-client', client_id: 'forge-client',
                   iat: now, nbf: now - 10, exp: now + 600, ...(body.claims ?? {}) };
  for (const o of [header, claims])
    for (const k of Object.keys(o)) if (o[k] === null) delete o[k];
  let key;
  if (mode === 'issuer') key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  else if (mode === 'foreign') key = foreignKeys[alg];
  else if (mode === 'hs256-public') {
    // The classic confusion attack: the issuer's public key (PEM, as a verifier holds it)
    // used as the HMAC secret.
    const { d, p, q, dp, dq, qi, ...pub } = jwk;
    key = crypto.createPublicKey({ key: pub, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  }
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const token = `${input}.${sign(signAlg, key, input)}`;
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ token }));
});

await server.start(0, '127.0.0.1');
const port = server.address().port;
// The library names loopback issuers "localhost"; the gateway fetches from 127.0.0.1.
server.issuer.url = `http://127.0.0.1:${port}`;
console.log(JSON.stringify({ issuer: server.issuer.url, port }));

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
