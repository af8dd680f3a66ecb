import test, { type ExecutionContext } from 'ava';
import WebSocket from 'ws';
import { TransportError } from '../../../src/core/errors.js';
import { portOf, sip, startLayer, waitFor, withTimeout } from './helpers.js';

async function open(t: ExecutionContext, url: string, protocols?: string | string[]): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols);
  t.teardown(() => ws.terminate());
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    3000,
    `WebSocket open ${url}`,
  );
  return ws;
}

test('ws: a client speaking subprotocol sip sends a request and gets the reply', async (t) => {
  const { layer, next } = await startLayer(t, [{ id: 'wss', transport: 'ws', address: '127.0.0.1', port: 0 }], {
    clock: { now: () => 99 },
  });
  const port = portOf(layer, 'wss');
  const ws = await open(t, `ws://127.0.0.1:${port}`, ['foo', 'sip']);
  t.is(ws.protocol, 'sip');
  t.is(layer.stats().wsConnections, 1);

  const request = sip('hi', 'REGISTER sip:example.com SIP/2.0');
  ws.send(request.toString('latin1'));
  const { data, env } = await next();
  t.deepEqual(data, request);
  t.is(env.transport, 'ws');
  t.is(env.socketId, 'wss');
  t.is(typeof env.connectionId, 'number');
  t.deepEqual(env.local, { address: '127.0.0.1', port });
  t.is(env.remote.address, '127.0.0.1');
  t.is(env.receivedAt, 99);

  const reply = sip('', 'SIP/2.0 200 OK');
  const got = withTimeout(
    new Promise<{ data: Buffer; isBinary: boolean }>((resolve) => ws.once('message', (d, isBinary) => resolve({ data: d as Buffer, isBinary }))),
    3000,
    'reply on the WebSocket',
  );
  layer.send(reply, { transport: 'ws', address: env.remote.address, port: env.remote.port, connectionId: env.connectionId }, (e) =>
    t.fail(e.message),
  );
  const back = await got;
  t.deepEqual(back.data, reply);
  t.false(back.isBinary, 'a text request gets a text reply');

  // Without connectionId the connection is found by remote address and port.
  const again = new Promise<Buffer>((resolve) => ws.once('message', (d) => resolve(d as Buffer)));
  layer.send(reply, { transport: 'ws', address: env.remote.address, port: env.remote.port });
  t.deepEqual(await withTimeout(again, 3000, 'second reply'), reply);

  ws.close();
  await waitFor(() => layer.stats().wsConnections === 0, 'connection removed on close');
});

for (const protocols of [undefined, 'foo']) {
  test(`ws: a client offering ${protocols ?? 'no subprotocol'} is refused`, async (t) => {
    const { layer, received } = await startLayer(t, [{ id: 'w', transport: 'ws', address: '127.0.0.1', port: 0 }]);
    const err = await t.throwsAsync(open(t, `ws://127.0.0.1:${portOf(layer, 'w')}`, protocols));
    t.regex(err!.message, /Unexpected server response: 400/);
    t.is(layer.stats().wsConnections, 0);
    t.is(received.length, 0);
  });
}

test('ws: sending without a connection to that endpoint fails with onError', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'w', transport: 'ws', address: '127.0.0.1', port: 0 }]);
  const err = await new Promise<Error>((resolve) => layer.send(sip(), { transport: 'ws', address: '127.0.0.1', port: 5062 }, resolve));
  t.true(err instanceof TransportError);
  t.is(err.message, 'no WebSocket connection to 127.0.0.1:5062');
  t.is(layer.stats().sendErrors, 1);
});

test('ws: a message over maxMessageSize closes the connection and is counted', async (t) => {
  const { layer, received } = await startLayer(t, [{ id: 'w', transport: 'ws', address: '127.0.0.1', port: 0 }], {
    maxMessageSize: 1024,
  });
  const ws = await open(t, `ws://127.0.0.1:${portOf(layer, 'w')}`, 'sip');
  ws.on('error', () => {});
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.send(sip('x'.repeat(2000)));
  t.is(await withTimeout(closed, 3000, 'close'), 1009);
  t.is(received.length, 0);
  await waitFor(() => layer.stats().framingErrors === 1, 'framing error counted');
});

/** A raw TCP peer that completes the WebSocket handshake and then never sends a byte (answers no ping). */
async function silentPeer(t: ExecutionContext, port: number) {
  const net = await import('node:net');
  const socket = net.connect({ host: '127.0.0.1', port });
  t.teardown(() => {
    socket.destroy();
  });
  let text = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n',
  );
  await waitFor(() => text.includes('101 Switching Protocols'), 'the upgrade');
  return { isClosed: () => closed, received: () => text };
}

test('ws: a peer silent for the idle timeout gets a ping; silent again, it is closed and counted as idle', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'w', transport: 'ws', address: '127.0.0.1', port: 0 }], { tcpIdleTimeoutMs: 150 });
  const peer = await silentPeer(t, portOf(layer, 'w'));
  await waitFor(() => layer.stats().wsConnections === 1, 'the connection');
  const opened = Date.now();
  await waitFor(peer.isClosed, 'the idle close', 3000);
  const after = Date.now() - opened;
  t.true(after >= 250, `closed after ${after} ms: one idle period for the ping, one more for the close`);
  t.true(peer.received().includes('\x89\x00'), 'an empty ping frame went out first');
  t.is(layer.stats().connectionsClosed.idle, 1);
  await waitFor(() => layer.stats().wsConnections === 0, 'registry cleanup');
});

test('ws: a live peer that answers pings stays open across many idle periods', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'w', transport: 'ws', address: '127.0.0.1', port: 0 }], { tcpIdleTimeoutMs: 100 });
  const ws = await open(t, `ws://127.0.0.1:${portOf(layer, 'w')}`, 'sip');
  let pings = 0;
  ws.on('ping', () => pings++);
  await new Promise((r) => setTimeout(r, 700));
  t.is(ws.readyState, ws.OPEN);
  t.true(pings >= 2, `${pings} pings answered`);
  t.is(layer.stats().connectionsClosed.idle, 0);
});
