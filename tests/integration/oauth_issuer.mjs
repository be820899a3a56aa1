// A real OAuth 2 issuer for oauth_issuer.sh: oauth2-mock-server on 127.0.0.1 with an RS256
// and an ES256 key (tokens alternate between them), shaped per request by test parameters.
// Prints {"issuer": ..., "port": ...} on one line once listening.
// Usage: node oauth_issuer.mjs [KEY.pem CERT.pem]   (with them: HTTPS)
// The pinned test toolchain lives in tests/node, which is not on this file's module path.
const { OAuth2Server, Events } = await import(
  new URL('../node/node_modules/oauth2-mock-server/dist/index.mjs', import.meta.url).href);

const [keyFile, certFile] = process.argv.slice(2);
const server = keyFile ? new OAuth2Server(keyFile, certFile) : new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.issuer.keys.generate('ES256');

// Token endpoint parameters beyond OAuth's, for the test only:
//   client_id  -> "client_id" and "sub" claims (as Cognito client-credentials tokens have)
//   shape      -> "cognito-access" (no aud, token_use access, cognito:groups)
//                 "cognito-id" (aud = client_id, token_use id)
//   expires_in -> exp = iat + this (negative: already expired)
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
  if (body.expires_in !== undefined) p.exp = p.iat + Number(body.expires_in);
});

// Key rotation on demand: a new RS256 key the published JWKS gains at once.
server.service.addRoute('POST', '/test/rotate', async (_req, res) => {
  const key = await server.issuer.keys.generate('RS256');
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ kid: key.kid }));
});

await server.start(0, '127.0.0.1');
const port = server.address().port;
// The library names loopback issuers "localhost"; the gateway fetches from 127.0.0.1.
server.issuer.url = `${keyFile ? 'https' : 'http'}://127.0.0.1:${port}`;
console.log(JSON.stringify({ issuer: server.issuer.url, port }));

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
