// Write back-pressure: bytes queued per connection are bounded, a peer that
// does not read is closed, and sends fail through onError, never by throwing.

import test, { type ExecutionContext } from 'ava';
import net from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/core/log.js';
import { sip, startLayer, waitFor } from './helpers.js';

/** A peer that accepts connections and never reads from them. */
async function deafPeer(t: ExecutionContext): Promise<{ port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.pause();
    s.on('error', () => {});
    sockets.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, sockets };
}

const BIG = sip('x'.repeat(60_000));

test('tcp: writes queued while connecting are bounded: the one over the bound fails and closes the connection', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'tcp', transport: 'tcp', address: '127.0.0.1', port: 0 }], {
    maxSendQueue: 200_000,
  });
  const peer = await deafPeer(t);
  const errors: Error[] = [];
  const dest = { transport: 'tcp' as const, address: '127.0.0.1', port: peer.port };
  t.notThrows(() => {
    for (let i = 0; i < 4; i++) layer.send(BIG, dest, (e) => errors.push(e));
  });
  t.true(layer.stats().sendQueueBytes <= 200_000, `${layer.stats().sendQueueBytes} bytes queued`);
  await waitFor(() => errors.length === 4, 'every write to fail');
  t.regex(errors[0]!.message, /send queue full/, 'the overflowing write is reported first (synchronously queued)');
  t.regex(errors[1]!.message, /closed \(queue_overflow\)/);
  const s = layer.stats();
  t.is(s.connectionsClosed.queue_overflow, 1);
  t.is(s.sendErrorsByReason.queue_overflow, 4, 'the overflowing write and the three queued ones');
  t.is(s.sendErrors, 4);
  await waitFor(() => layer.stats().tcpConnections === 0, 'connection gone');
});

test('tcp: a peer that never reads is closed once the kernel-buffer overflow passes the bound', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'tcp', transport: 'tcp', address: '127.0.0.1', port: 0 }], {
    maxSendQueue: 300_000,
    sendStallTimeoutMs: 0,
  });
  const peer = await deafPeer(t);
  const dest = { transport: 'tcp' as const, address: '127.0.0.1', port: peer.port };
  let failed = 0;
  let maxQueued = 0;
  // Up to ~60 MB: far more than loopback's kernel buffers hold.
  for (let i = 0; i < 1000 && layer.stats().connectionsClosed.queue_overflow === 0; i++) {
    layer.send(BIG, dest, () => failed++);
    maxQueued = Math.max(maxQueued, layer.stats().sendQueueBytes);
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
  }
  const s = layer.stats();
  t.is(s.connectionsClosed.queue_overflow, 1);
  t.true(maxQueued <= 300_000, `user-space queue peaked at ${maxQueued} bytes`);
  await waitFor(() => failed >= 1 && layer.stats().tcpConnections === 0, 'the failure reported, the connection closed');
  t.true(layer.stats().sendErrorsByReason.queue_overflow >= 1);
});

test('tcp: a peer that has not drained for the stall timeout is closed; its pending writes fail as stalled', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'tcp', transport: 'tcp', address: '127.0.0.1', port: 0 }], {
    maxSendQueue: 256 * 1024 * 1024,
    sendStallTimeoutMs: 300,
  });
  const peer = await deafPeer(t);
  const dest = { transport: 'tcp' as const, address: '127.0.0.1', port: peer.port };
  const errors: Error[] = [];
  for (let i = 0; i < 400; i++) {
    layer.send(BIG, dest, (e) => errors.push(e));
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
  }
  const t0 = Date.now();
  await waitFor(() => layer.stats().connectionsClosed.stalled === 1, 'the stall timeout', 3000);
  t.true(Date.now() - t0 < 1500);
  await waitFor(() => errors.length > 0 && layer.stats().tcpConnections === 0, 'pending writes failed');
  t.true(layer.stats().sendErrorsByReason.stalled >= 1, JSON.stringify(layer.stats().sendErrorsByReason));
  t.regex(errors[0]!.message, /stalled/);
  t.is(layer.stats().sendQueueBytes, 0);
});

test('layer: an exception escaping onMessage is counted and logged with its stack, at most once per interval', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const log = createLogger({ name: 'test', level: 'info', stream });
  const { layer } = await startLayer(t, [{ id: 'tcp', transport: 'tcp', address: '127.0.0.1', port: 0 }], {
    log,
    logIntervalMs: 60_000,
  });
  layer.onMessage = () => {
    throw new Error('upper layer bug');
  };
  const port = layer.sockets()[0]!.port;
  const c = net.connect({ host: '127.0.0.1', port });
  t.teardown(() => c.destroy());
  for (let i = 0; i < 5; i++) c.write(sip());
  await waitFor(() => layer.stats().handlerErrors === 5, 'five caught');
  t.is(lines.length, 1);
  t.like(lines[0], { level: 50, error: 'upper layer bug', suppressed_since_last_line: 0, transport: 'tcp' });
  t.regex(String(lines[0]!.stack), /upper layer bug\n\s+at /);
});

test('ws: a peer that never reads is closed at the send-queue bound; later sends fail with onError', async (t) => {
  const { layer, next } = await startLayer(t, [{ id: 'ws', transport: 'ws', address: '127.0.0.1', port: 0 }], {
    maxSendQueue: 300_000,
    sendStallTimeoutMs: 0,
  });
  const s = net.connect({ host: '127.0.0.1', port: layer.sockets()[0]!.port });
  s.on('error', () => {});
  t.teardown(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  s.write(
    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n',
  );
  await new Promise((r) => s.once('data', r));
  const payload = sip();
  // A masked text frame with an all-zero key: the payload goes as is.
  s.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
  const { env } = await next();
  s.pause(); // from now on the peer reads nothing
  const dest = { transport: 'ws' as const, address: env.remote.address, port: env.remote.port, connectionId: env.connectionId };
  const errors: Error[] = [];
  let maxQueued = 0;
  for (let i = 0; i < 1000 && layer.stats().connectionsClosed.queue_overflow === 0; i++) {
    t.notThrows(() => layer.send(BIG, dest, (e) => errors.push(e)));
    maxQueued = Math.max(maxQueued, layer.stats().sendQueueBytes);
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
  }
  t.is(layer.stats().connectionsClosed.queue_overflow, 1);
  t.true(maxQueued <= 300_000, `queue peaked at ${maxQueued} bytes`);
  await waitFor(() => layer.stats().wsConnections === 0, 'the connection closed');
  layer.send(BIG, dest, (e) => errors.push(e));
  await waitFor(() => errors.some((e) => /no WebSocket connection/.test(e.message)), 'a send to the closed connection fails');
  t.true(layer.stats().sendErrorsByReason.queue_overflow >= 1);
  t.true(layer.stats().sendErrorsByReason.no_connection >= 1);
});
