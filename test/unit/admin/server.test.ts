import test from 'ava';
import { AdminServer } from '../../../src/admin/server.js';
import { Metrics } from '../../../src/admin/metrics.js';

async function withServer(
  t: import('ava').ExecutionContext,
  extra: Partial<ConstructorParameters<typeof AdminServer>[0]> = {},
): Promise<{ url: string; metrics: Metrics; server: AdminServer }> {
  const metrics = new Metrics();
  const server = new AdminServer({
    address: '127.0.0.1',
    port: 0,
    metrics,
    status: () => ({ node: 1, state: 'up' }),
    ...extra,
  });
  const port = await server.start();
  t.teardown(() => server.stop());
  return { url: `http://127.0.0.1:${port}`, metrics, server };
}

test('start on port 0 resolves with a real port; stop closes it', async (t) => {
  const server = new AdminServer({ address: '127.0.0.1', port: 0, metrics: new Metrics(), status: () => ({}) });
  const port = await server.start();
  t.true(port > 0);
  t.is((await fetch(`http://127.0.0.1:${port}/status`)).status, 200);
  await server.stop();
  await t.throwsAsync(fetch(`http://127.0.0.1:${port}/status`));
  await t.notThrowsAsync(server.stop()); // idempotent
});

test('GET /status returns the callback JSON', async (t) => {
  const { url } = await withServer(t);
  const res = await fetch(`${url}/status?verbose=1`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type')!, /^application\/json/);
  t.deepEqual(await res.json(), { node: 1, state: 'up' });
});

test('GET /metrics returns the Prometheus text', async (t) => {
  const { url, metrics } = await withServer(t);
  metrics.requestIn('INVITE');
  const res = await fetch(`${url}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  t.regex(await res.text(), /^anysip_sip_requests_received_total\{method="INVITE"\} 1$/m);
});

test('unknown path is 404 JSON listing the endpoints', async (t) => {
  const { url } = await withServer(t, { actions: { drain: async () => ({}) } });
  const res = await fetch(`${url}/nope`);
  t.is(res.status, 404);
  t.deepEqual(await res.json(), { error: 'not found', endpoints: ['GET /status', 'GET /metrics', 'POST /drain'] });
});

test('wrong method is 405 with Allow', async (t) => {
  const { url } = await withServer(t, { actions: { drain: async () => ({}) } });
  const post = await fetch(`${url}/status`, { method: 'POST' });
  t.is(post.status, 405);
  t.is(post.headers.get('allow'), 'GET, HEAD');
  const get = await fetch(`${url}/drain`);
  t.is(get.status, 405);
  t.is(get.headers.get('allow'), 'POST');
  t.is((await get.json()).error, 'method not allowed');
});

test('POST /<action> runs the action and returns its result', async (t) => {
  let drained = false;
  const { url } = await withServer(t, {
    actions: {
      drain: async () => {
        drained = true;
        return { state: 'draining' };
      },
    },
  });
  const res = await fetch(`${url}/drain`, { method: 'POST', body: 'ignored' });
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { state: 'draining' });
  t.true(drained);
});

test('a failing action or status callback is a 500, and the server keeps serving', async (t) => {
  let fail = true;
  const { url } = await withServer(t, {
    status: () => {
      if (fail) throw new Error('status broke');
      return { ok: true };
    },
    actions: { drain: async () => { throw new Error('cannot drain'); } },
  });
  const a = await fetch(`${url}/drain`, { method: 'POST' });
  t.is(a.status, 500);
  t.deepEqual(await a.json(), { error: 'cannot drain' });
  const s = await fetch(`${url}/status`);
  t.is(s.status, 500);
  t.deepEqual(await s.json(), { error: 'status broke' });
  fail = false;
  t.deepEqual(await (await fetch(`${url}/status`)).json(), { ok: true });
});

test('a malformed HTTP request does not crash the server', async (t) => {
  const { url } = await withServer(t);
  const { port } = new URL(url);
  const net = await import('node:net');
  const reply = await new Promise<string>((resolve) => {
    const s = net.connect(Number(port), '127.0.0.1', () => s.write('GARBAGE \x00\x01\r\n\r\n'));
    let buf = '';
    s.on('data', (d) => (buf += d.toString()));
    s.on('close', () => resolve(buf));
    s.on('error', () => resolve(buf));
  });
  t.regex(reply, /^HTTP\/1\.1 400/);
  t.is((await fetch(`${url}/status`)).status, 200);
});

test('action names may not shadow built-in endpoints', (t) => {
  t.throws(() => new AdminServer({ port: 0, metrics: new Metrics(), status: () => ({}), actions: { status: async () => ({}) } }));
});

test('binds loopback when no address is given', async (t) => {
  const server = new AdminServer({ port: 0, metrics: new Metrics(), status: () => ({}) });
  const port = await server.start();
  t.teardown(() => server.stop());
  t.is((await fetch(`http://127.0.0.1:${port}/status`)).status, 200);
});

test('start fails cleanly when the port is taken', async (t) => {
  const { url } = await withServer(t);
  const taken = Number(new URL(url).port);
  const second = new AdminServer({ address: '127.0.0.1', port: taken, metrics: new Metrics(), status: () => ({}) });
  const err = await t.throwsAsync(second.start());
  t.is((err as NodeJS.ErrnoException).code, 'EADDRINUSE');
});

test('HEAD is accepted where GET is, without a body', async (t) => {
  const { url } = await withServer(t);
  const res = await fetch(`${url}/metrics`, { method: 'HEAD' });
  t.is(res.status, 200);
  t.is(await res.text(), '');
});
