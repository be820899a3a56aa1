// Drives one MCP server through the official SDK client: a list of tool calls from stdin, one
// JSON line of results per call on stdout, for shell tests of the domain servers.
//
// Usage: node mcp_calls.mjs URL               (Streamable HTTP, e.g. https://127.0.0.1:8443/mcp)
//        node mcp_calls.mjs --stdio PROGRAM [ARGS...]   (the server as a child, environment inherited)
// stdin: a JSON array of steps
//   {"tool": NAME, "arguments": {...}, "progress": true?, "timeout_ms": N?, "cancel_after_ms": N?}
// stdout: first {"tools": [names], "schemas": {name: {inputSchema, outputSchema}}, "server": {...}}
//   then per step {"tool", "ok", "result", "error", "progress": [{progress, total, message}], "ms",
//   "cancelled"}; ok is protocol-level (a tool answering isError:true is still ok:true, a
//   JSON-RPC error, a timeout, a cancellation or a result failing the tool's outputSchema is not).
// HTTP credentials as in sdk_client.mjs: MCPGATE_API_KEY (X-API-Key, or "Authorization: Bearer"
// when MCPGATE_API_KEY_HEADER=bearer), MCPGATE_BEARER (an OAuth access token).
// Exit status: 0 unless the connection (or stdin) failed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

function usage() {
	console.error('usage: node mcp_calls.mjs URL | --stdio PROGRAM [ARGS...]  (steps as a JSON array on stdin)');
	process.exit(2);
}

const argv = process.argv.slice(2);
if (argv.length === 0) usage();

let transport;
if (argv[0] === '--stdio') {
	if (argv.length < 2) usage();
	transport = new StdioClientTransport({ command: argv[1], args: argv.slice(2), env: { ...process.env },
		stderr: 'inherit' });
} else {
	const headers = {};
	if (process.env.MCPGATE_API_KEY) {
		if (process.env.MCPGATE_API_KEY_HEADER === 'bearer') headers.Authorization = `Bearer ${process.env.MCPGATE_API_KEY}`;
		else headers['X-API-Key'] = process.env.MCPGATE_API_KEY;
	}
	if (process.env.MCPGATE_BEARER) headers.Authorization = `Bearer ${process.env.MCPGATE_BEARER}`;
	transport = new StreamableHTTPClientTransport(new URL(argv[0]), { requestInit: { headers } });
}

async function readStdin() {
	const chunks = [];
	for await (const c of process.stdin) chunks.push(c);
	return Buffer.concat(chunks).toString('utf8');
}

let steps;
try {
	steps = JSON.parse((await readStdin()) || '[]');
	if (!Array.isArray(steps) || !steps.every((s) => s && typeof s.tool === 'string'))
		throw new Error('expected a JSON array of {"tool": ...} steps');
} catch (e) {
	console.error(`mcp_calls: bad steps on stdin: ${e.message}`);
	process.exit(2);
}

const client = new Client({ name: 'mcpgate-mcp-calls', version: '1.0.0' });
try {
	await client.connect(transport);
} catch (e) {
	console.error(`mcp_calls: connect failed: ${e?.stack || e}`);
	process.exit(1);
}

const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// Progress is read off the transport, in arrival order: the SDK hands notifications to their
// handlers a microtask late but settles a response at once, so a progress notification sent
// just before the result would otherwise be lost. Steps run one at a time, so every progress
// notification seen while a step is in flight is that step's.
let currentProgress = null;
const deliver = transport.onmessage;
transport.onmessage = (msg, extra) => {
	if (currentProgress && msg?.method === 'notifications/progress') {
		const p = msg.params ?? {};
		currentProgress.push({ progress: p.progress, total: p.total ?? null, message: p.message ?? null });
	}
	deliver?.call(transport, msg, extra);
};

try {
	const tools = [];
	let cursor;
	for (let page = 0; page < 100; page++) {
		const r = await client.listTools(cursor ? { cursor } : undefined);
		tools.push(...r.tools);
		cursor = r.nextCursor;
		if (!cursor) break;
	}
	const schemas = {};
	for (const t of tools) schemas[t.name] = { inputSchema: t.inputSchema ?? null, outputSchema: t.outputSchema ?? null };
	out({ tools: tools.map((t) => t.name), schemas, server: client.getServerVersion() ?? null });
} catch (e) {
	console.error(`mcp_calls: tools/list failed: ${e?.stack || e}`);
	await client.close().catch(() => {});
	process.exit(1);
}

for (const step of steps) {
	const progress = [];
	const started = Date.now();
	const options = { timeout: step.timeout_ms ?? 60000 };
	if (step.progress) {
		options.onprogress = () => {}; // makes the SDK send a progressToken; recorded above
		options.resetTimeoutOnProgress = true;
		currentProgress = progress;
	}
	let timer = null;
	let cancelled = false;
	if (step.cancel_after_ms !== undefined) {
		const ac = new AbortController();
		options.signal = ac.signal;
		timer = setTimeout(() => { cancelled = true; ac.abort(new Error(`cancelled after ${step.cancel_after_ms} ms`)); },
			step.cancel_after_ms);
	}
	const line = { tool: step.tool, ok: false, result: null, error: null, progress, ms: 0, cancelled: false };
	try {
		line.result = await client.callTool({ name: step.tool, arguments: step.arguments ?? {} }, undefined, options);
		line.ok = true;
	} catch (e) {
		line.error = e?.message ?? String(e);
	}
	clearTimeout(timer);
	currentProgress = null;
	line.cancelled = cancelled;
	line.ms = Date.now() - started;
	out(line);
}

await client.close().catch(() => {});
process.exit(0);
