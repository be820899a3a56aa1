// Load for auth_ratelimit.sh: one principal calls a tool through several gateways at once
// (one request in flight per gateway, GAP_MS between them, for DURATION_MS, at most
// MAX_REQUESTS per gateway), records when each request was sent and answered and how, and
// prints a summary of what was admitted per window. Writes every record to OUT.
// Usage: node auth_ratelimit_hammer.mjs OUT DURATION_MS GAP_MS WINDOW_MS KEY URL=SESSION...
import { writeFileSync } from 'node:fs';

const [out, durationArg, gapArg, windowArg, key, ...targets] = process.argv.slice(2);
const duration = Number(durationArg), gap = Number(gapArg), W = Number(windowArg);
const MAX_REQUESTS = 2000;
const now = () => performance.timeOrigin + performance.now(); // Unix ms, monotonic here
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function hammer(gw, url, session, end, records) {
  for (let n = 0; n < MAX_REQUESTS && now() < end; n++) {
    const body = JSON.stringify({ jsonrpc: '2.0', id: n + 1, method: 'tools/call',
      params: { name: 'echo__echo', arguments: { text: `gw${gw} #${n}` } } });
    const send = now();
    const rec = { gw, send };
    try {
      const res = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(5000),
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
                   'X-API-Key': key, 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-11-25' } });
      const text = await res.text();
      rec.status = res.status;
      for (const h of ['retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'])
        if (res.headers.has(h)) rec[h] = res.headers.get(h);
      if (res.status !== 200) {
        try {
          const e = JSON.parse(text).error;
          rec.code = e?.code;
          rec.message = e?.message;
        } catch { rec.message = text.slice(0, 200); }
      }
    } catch (err) {
      rec.status = 0;
      rec.message = String(err).slice(0, 200);
    }
    rec.recv = now();
    records.push(rec);
    await sleep(gap);
  }
}

// The most admissions that certainly fell in one window: for each admitted request i, those
// sent no earlier than i and answered before send_i + W were decided inside
// [send_i, send_i + W), whatever the latency; the limiter must keep that at or under N.
function certainMax(admitted) {
  const a = admitted.slice().sort((x, y) => x.send - y.send);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    let n = 0;
    for (let j = i; j < a.length; j++) if (a[j].recv < a[i].send + W) n++;
    max = Math.max(max, n);
  }
  return max;
}
// The client-clock view: the most answers to admitted requests within any W of each other
// (latency can shift a decision by a few ms either way: reported, not a pass/fail measure).
function answeredMax(admitted) {
  const t = admitted.map((r) => r.recv).sort((x, y) => x - y);
  let max = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j] - t[i] >= W) i++;
    max = Math.max(max, j - i + 1);
  }
  return max;
}
function summary(records) {
  const admitted = records.filter((r) => r.status === 200);
  const byStatus = {};
  for (const r of records) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const refused = records.filter((r) => r.status === 429 || r.status === 503);
  return {
    requests: records.length, byStatus, admitted: admitted.length,
    certainMax: certainMax(admitted), answeredMax: answeredMax(admitted),
    refusedWithRetryAfter: refused.filter((r) => Number(r['retry-after']) >= 1).length,
    limitedWithRateLimitHeaders: records.filter((r) => r.status === 429 && r['ratelimit-limit'] !== undefined &&
      r['ratelimit-remaining'] === '0' && Number(r['ratelimit-reset']) >= 1).length,
    codes: [...new Set(refused.map((r) => `${r.status}:${r.code}:${r.message}`))],
    others: records.filter((r) => ![200, 429, 503].includes(r.status)).slice(0, 3),
  };
}

const start = now();
const end = start + duration;
const records = [];
await Promise.all(targets.map((t, gw) => {
  const i = t.indexOf('='); // the URL has none; a session id might
  return hammer(gw, t.slice(0, i), t.slice(i + 1), end, records);
}));
const result = { start, end: now(), window: W, all: summary(records),
  perGateway: targets.map((_, gw) => summary(records.filter((r) => r.gw === gw))) };
writeFileSync(out, JSON.stringify(records));
console.log(JSON.stringify(result));
