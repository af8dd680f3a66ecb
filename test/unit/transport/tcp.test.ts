import test, { type ExecutionContext } from 'ava';
import net from 'node:net';
import { TransportError } from '../../../src/core/errors.js';
import { StreamFramer } from '../../../src/transport/stream-framer.js';
import { portOf, sip, startLayer, waitFor, withTimeout } from './helpers.js';

/** A TCP client that frames what it reads, like a SIP UA would. */
async function client(t: ExecutionContext, address: string, port: number) {
  const socket = net.connect({ host: address, port });
  t.teardown(() => {
    socket.destroy();
  });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }),
    3000,
    `connect to ${address}:${port}`,
  );
  const messages: Buffer[] = [];
  const raw: Buffer[] = [];
  const framer = new StreamFramer();
  framer.onMessage = (m) => messages.push(Buffer.from(m));
  socket.on('data', (d: Buffer) => {
    raw.push(d);
    framer.push(d);
  });
  let closed = false;
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {});
  return { socket, messages, raw, isClosed: () => closed };
}

/** A peer server standing for a gateway: records connections and the messages on them. */
async function peer(t: ExecutionContext, address = '127.0.0.1') {
  const connections: net.Socket[] = [];
  const messages: { data: Buffer; socket: net.Socket }[] = [];
  const server = net.createServer((socket) => {
    connections.push(socket);
    const framer = new StreamFramer();
    framer.onMessage = (m) => messages.push({ data: Buffer.from(m), socket });
    socket.on('data', (d: Buffer) => framer.push(d));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  t.teardown(() => {
    for (const c of connections) c.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, connections, messages };
}

for (const address of ['127.0.0.1', '::1']) {
  test(`tcp on ${address}: a reply goes back on the connection the request came on`, async (t) => {
    const { layer, next } = await startLayer(t, [{ id: 'tcp1', transport: 'tcp', address, port: 0 }], {
      clock: { now: () => 7 },
    });
    const port = portOf(layer, 'tcp1');
    const ua = await client(t, address, port);
    const request = sip('v=0\r\n');
    // Split the request to exercise framing on a real stream.
    ua.socket.write(request.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 20));
    ua.socket.write(request.subarray(10));

    const { data, env } = await next();
    t.deepEqual(data, request);
    t.is(env.transport, 'tcp');
    t.deepEqual(env.remote, { address, port: ua.socket.localPort });
    t.deepEqual(env.local, { address, port });
    t.is(env.socketId, 'tcp1');
    t.is(typeof env.connectionId, 'number');
    t.is(env.receivedAt, 7);
    t.is(env.hops, 0);

    const reply = sip('', 'SIP/2.0 200 OK');
    layer.send(reply, { transport: 'tcp', address: env.remote.address, port: env.remote.port, connectionId: env.connectionId }, (e) =>
      t.fail(e.message),
    );
    await waitFor(() => ua.messages.length === 1, 'the reply on the client socket');
    t.deepEqual(ua.messages[0], reply);
    t.is(layer.stats().tcpConnections, 1, 'no second connection was opened');
  });
}

test('tcp: without connectionId, a send reuses the open connection to that endpoint', async (t) => {
  const { layer, next } = await startLayer(t, [{ id: 't', transport: 'tcp', address: '127.0.0.1', port: 0 }]);
  const ua = await client(t, '127.0.0.1', portOf(layer, 't'));
  ua.socket.write(sip());
  const { env } = await next();
  layer.send(sip('', 'BYE sip:ua SIP/2.0'), { transport: 'tcp', address: env.remote.address, port: env.remote.port });
  await waitFor(() => ua.messages.length === 1, 'request on the accepted connection');
  t.is(layer.stats().tcpConnections, 1);
});

test('tcp: outgoing connection is opened once and reused, writes queue while connecting', async (t) => {
  const gw = await peer(t);
  const { layer, next } = await startLayer(t, [{ id: 'core', transport: 'tcp', address: '127.0.0.1', port: 0, role: 'unicast' }]);
  const dest = { transport: 'tcp' as const, address: '127.0.0.1', port: gw.port };
  const errors: Error[] = [];
  layer.send(sip('one'), dest, (e) => errors.push(e));
  layer.send(sip('two'), dest, (e) => errors.push(e)); // still connecting: must queue
  await waitFor(() => gw.messages.length === 2, 'two messages at the peer');
  layer.send(sip('three'), dest, (e) => errors.push(e));
  await waitFor(() => gw.messages.length === 3, 'third message at the peer');
  t.is(gw.connections.length, 1, 'one connection for all sends');
  t.deepEqual(
    gw.messages.map((m) => m.data.toString().split('\r\n\r\n')[1]),
    ['one', 'two', 'three'],
  );
  t.deepEqual(errors, []);
  t.is(layer.stats().tcpConnections, 1);
  // The connection was opened from the configured address.
  t.is(gw.connections[0]!.remoteAddress, '127.0.0.1');

  // The peer answers on that connection: it arrives tagged with the outgoing connection and its socket.
  gw.connections[0]!.write(sip('', 'SIP/2.0 200 OK'));
  const { env } = await next();
  t.is(env.socketId, 'core');
  t.deepEqual(env.remote, { address: '127.0.0.1', port: gw.port });
  t.is(typeof env.connectionId, 'number');
});

test('tcp: a reply whose connection is gone opens a new connection to the address (RFC 3261 18.2.2)', async (t) => {
  const gw = await peer(t);
  const { layer, next } = await startLayer(t, [{ id: 't', transport: 'tcp', address: '127.0.0.1', port: 0 }]);
  const dest = { transport: 'tcp' as const, address: '127.0.0.1', port: gw.port };
  layer.send(sip('first'), dest);
  await waitFor(() => gw.messages.length === 1, 'first message');
  gw.connections[0]!.write(sip('', 'SIP/2.0 100 Trying'));
  const { env } = await next();
  gw.connections[0]!.destroy();
  await waitFor(() => layer.stats().tcpConnections === 0, 'the layer to drop the closed connection');

  layer.send(sip('again'), { ...dest, connectionId: env.connectionId }, (e) => t.fail(e.message));
  await waitFor(() => gw.messages.length === 2, 'message on a new connection');
  t.is(gw.connections.length, 2);
  t.is(gw.messages[1]!.socket, gw.connections[1]);
});

test('tcp: connect failure calls onError with a TransportError', async (t) => {
  // A port that was free a moment ago: nothing listens there.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const deadPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));

  const { layer } = await startLayer(t, [{ id: 't', transport: 'tcp', address: '127.0.0.1', port: 0 }]);
  const dest = { transport: 'tcp' as const, address: '127.0.0.1', port: deadPort };
  const errors: Error[] = [];
  layer.send(sip('a'), dest, (e) => errors.push(e));
  layer.send(sip('b'), dest, (e) => errors.push(e));
  await waitFor(() => errors.length === 2, 'both queued sends to fail');
  t.true(errors.every((e) => e instanceof TransportError));
  t.regex(errors[0]!.message, new RegExp(`connect to 127\\.0\\.0\\.1:${deadPort} failed: .*ECONNREFUSED`));
  t.like(layer.stats(), { sendErrors: 2, tcpConnections: 0 });
});

test('tcp: idle connections are closed after the idle timeout', async (t) => {
  const { layer } = await startLayer(t, [{ id: 't', transport: 'tcp', address: '127.0.0.1', port: 0 }], {
    tcpIdleTimeoutMs: 200,
  });
  const started = Date.now();
  const ua = await client(t, '127.0.0.1', portOf(layer, 't'));
  await waitFor(() => layer.stats().tcpConnections === 1, 'the accepted connection');
  // Traffic keeps it open past the timeout.
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ua.socket.write('\r\n');
  }
  t.false(ua.isClosed(), 'still open while there is traffic');
  const quiet = Date.now();
  await waitFor(ua.isClosed, 'the idle close', 2000);
  const idleFor = Date.now() - quiet;
  t.true(idleFor >= 150, `closed after ${idleFor} ms of silence`);
  t.true(Date.now() - started >= 550);
  await waitFor(() => layer.stats().tcpConnections === 0, 'registry cleanup');
});

test('tcp: outgoing traffic alone also keeps a connection from idling out', async (t) => {
  const { layer, next } = await startLayer(t, [{ id: 't', transport: 'tcp', address: '127.0.0.1', port: 0 }], {
    tcpIdleTimeoutMs: 200,
  });
  const ua = await client(t, '127.0.0.1', portOf(layer, 't'));
  ua.socket.write(sip());
  const { env } = await next();
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 100));
    layer.send(sip(), { transport: 'tcp', address: env.remote.address, port: env.remote.port, connectionId: env.connectionId });
  }
  t.false(ua.isClosed(), 'still open while the layer writes');
  await waitFor(() => ua.messages.length === 4, 'all four writes');
  await waitFor(ua.isClosed, 'the idle close', 2000);
});

test('tcp: bad framing is counted and closes the connection', async (t) => {
  const { layer, received } = await startLayer(t, [{ id: 't', transport: 'tcp', address: '127.0.0.1', port: 0 }]);
  const ua = await client(t, '127.0.0.1', portOf(layer, 't'));
  ua.socket.write('OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n'); // no Content-Length
  await waitFor(ua.isClosed, 'the server to close the connection');
  t.like(layer.stats(), { framingErrors: 1, tcpConnections: 0 });
  t.is(received.length, 0);
});

test('tcp: a CRLFCRLF ping is answered with a CRLF pong', async (t) => {
  const { layer } = await startLayer(t, [{ id: 't', transport: 'tcp', address: '127.0.0.1', port: 0 }]);
  const ua = await client(t, '127.0.0.1', portOf(layer, 't'));
  ua.socket.write('\r\n\r\n');
  await waitFor(() => ua.raw.length > 0, 'the pong');
  t.is(Buffer.concat(ua.raw).toString(), '\r\n');
  t.is(layer.stats().keepalives, 1);
});
