// The official TypeScript SDK client against the gateway: connect (Streamable HTTP or the
// legacy SSE transport), list tools, call one, and print a JSON summary. Exits non-zero on
// any failure. Usage: node sdk_client.mjs URL http|sse [TOOL [ARGS_JSON]]
// MCPGATE_API_KEY: sent as X-API-Key, or as "Authorization: Bearer" when
// MCPGATE_API_KEY_HEADER=bearer. MCPGATE_BEARER: an OAuth access token, sent as
// "Authorization: Bearer".
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";

const [url, kind = "http", tool, argsJson = "{}"] = process.argv.slice(2);
const headers = {};
if (process.env.MCPGATE_API_KEY) {
  if (process.env.MCPGATE_API_KEY_HEADER === "bearer") headers.Authorization = `Bearer ${process.env.MCPGATE_API_KEY}`;
  else headers["X-API-Key"] = process.env.MCPGATE_API_KEY;
}
if (process.env.MCPGATE_BEARER) headers.Authorization = `Bearer ${process.env.MCPGATE_BEARER}`;

const transport = kind === "sse"
  ? new SSEClientTransport(new URL(url), { requestInit: { headers }, eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers || {}), ...headers } }) } })
  : new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
const client = new Client({ name: "mcpgate-sdk-test", version: "1.0.0" });
const timer = setTimeout(() => { console.error("timed out"); process.exit(2); }, 30000);
try {
  await client.connect(transport);
  const tools = await client.listTools();
  const out = { server: client.getServerVersion(), protocol: transport.protocolVersion ?? null,
    tools: tools.tools.map((t) => t.name) };
  if (tool) {
    const result = await client.callTool({ name: tool, arguments: JSON.parse(argsJson) });
    out.call = result;
  }
  console.log(JSON.stringify(out));
  await client.close();
  clearTimeout(timer);
} catch (err) {
  console.error(`sdk client failed: ${err?.stack || err}`);
  process.exit(1);
}
