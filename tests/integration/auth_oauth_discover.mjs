// What an MCP client does after a 401, with the official SDK's OAuth discovery: read the
// WWW-Authenticate challenge, fetch the protected resource metadata it names (RFC 9728), then
// the authorization server's metadata, and get a client-credentials token from the token
// endpoint found there for the advertised resource. Prints one JSON summary line.
// Usage: node auth_oauth_discover.mjs MCP_URL CLIENT_ID SCOPE
const sdk = (path) => import(
  new URL(`../node/node_modules/@modelcontextprotocol/sdk/dist/esm/${path}`, import.meta.url).href);
const { extractWWWAuthenticateParams, discoverOAuthServerInfo } = await sdk('client/auth.js');

const [mcpUrl, clientId, scope] = process.argv.slice(2);
const out = {};
try {
  const res = await fetch(mcpUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {},
                clientInfo: { name: 'discover', version: '1' } } }),
  });
  out.status = res.status;
  out.wwwAuthenticate = res.headers.get('www-authenticate');
  const challenge = extractWWWAuthenticateParams(res);
  out.resourceMetadataUrl = challenge.resourceMetadataUrl?.href ?? null;
  const info = await discoverOAuthServerInfo(mcpUrl,
    { resourceMetadataUrl: challenge.resourceMetadataUrl });
  out.resourceMetadata = info.resourceMetadata ?? null;
  out.authorizationServerUrl = info.authorizationServerUrl;
  out.tokenEndpoint = info.authorizationServerMetadata?.token_endpoint ?? null;
  const tokenRes = await fetch(out.tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope,
                                aud: info.resourceMetadata.resource }),
  });
  out.tokenStatus = tokenRes.status;
  out.accessToken = (await tokenRes.json()).access_token ?? null;
  console.log(JSON.stringify(out));
} catch (err) {
  out.error = String(err?.stack || err);
  console.log(JSON.stringify(out));
  process.exit(1);
}
