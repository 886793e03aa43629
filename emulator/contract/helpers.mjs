// Shared by the contract tests: the environment contract_test.go sets, a
// tiny PNG, a file server on loopback, and JSON calls to control APIs.
import http from 'node:http';

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through contract_test.go (go test ./emulator/contract/)`);
  return v;
}

// A 1x1 PNG.
export const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64');

// serveFiles serves {path: {type, body}} on loopback; returns its base URL
// and a close function.
export async function serveFiles(files) {
  const server = http.createServer((req, res) => {
    const f = files[req.url];
    if (!f) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': f.body.length });
    res.end(f.body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

export async function control(url, body, method = 'POST') {
  const res = await fetch(url, {
    method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

// waitFor polls cond until it is truthy (at most 10 s).
export async function waitFor(what, cond) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
