import test from 'ava';
import { TransportError } from '../../../src/core/errors.js';
import { nextDatagram, portOf, sip, startLayer, udpClient, waitFor } from './helpers.js';

for (const address of ['127.0.0.1', '::1']) {
  test(`udp on ${address}: envelope is complete and the reply leaves from the same socket`, async (t) => {
    const { layer, next } = await startLayer(t, [{ id: 'edge', transport: 'udp', address, port: 0 }], {
      clock: { now: () => 424242 },
    });
    const port = portOf(layer, 'edge');
    t.not(port, 0, 'sockets() reports the bound port');
    const client = await udpClient(t, address);
    const request = sip('hello');
    client.send(request, port, address);

    const { data, env } = await next();
    t.deepEqual(data, request);
    t.deepEqual(env, {
      transport: 'udp',
      remote: { address, port: client.address().port },
      local: { address, port },
      socketId: 'edge',
      receivedAt: 424242,
      hops: 0,
    });

    const reply = sip('', 'SIP/2.0 200 OK');
    const got = nextDatagram(client);
    let error: Error | undefined;
    layer.send(reply, { transport: 'udp', address: env.remote.address, port: env.remote.port, socketId: env.socketId }, (e) => {
      error = e;
    });
    const { data: back, rinfo } = await got;
    t.deepEqual(back, reply);
    t.is(rinfo.port, port, 'reply sent from the listening socket');
    t.is(error, undefined);
    t.like(layer.stats(), { udpIn: 1, udpOut: 1, sendErrors: 0 });
  });
}

test('udp: CRLF keep-alive datagrams are counted, not delivered', async (t) => {
  const { layer, received } = await startLayer(t, [{ id: 'u', transport: 'udp', address: '127.0.0.1', port: 0 }]);
  const client = await udpClient(t, '127.0.0.1');
  client.send(Buffer.from('\r\n\r\n'), portOf(layer, 'u'), '127.0.0.1');
  client.send(sip(), portOf(layer, 'u'), '127.0.0.1');
  await waitFor(() => received.length === 1, 'the real message');
  t.like(layer.stats(), { keepalives: 1, udpIn: 1 });
  t.true(received[0]!.data.toString().startsWith('OPTIONS'));
});

test('udp: a handler that throws is counted and the socket keeps working', async (t) => {
  const { layer, received } = await startLayer(t, [{ id: 'u', transport: 'udp', address: '127.0.0.1', port: 0 }]);
  const record = layer.onMessage;
  let calls = 0;
  layer.onMessage = (d, e) => {
    if (calls++ === 0) throw new Error('upper layer bug');
    record(d, e);
  };
  const client = await udpClient(t, '127.0.0.1');
  client.send(sip(), portOf(layer, 'u'), '127.0.0.1');
  client.send(sip(), portOf(layer, 'u'), '127.0.0.1');
  await waitFor(() => received.length === 1, 'second message');
  t.is(layer.stats().handlerErrors, 1);
});

test('udp: sending with no socket of the destination family calls onError asynchronously', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'v4', transport: 'udp', address: '127.0.0.1', port: 0 }]);
  t.throws(() => layer.socketFor({ transport: 'udp', address: '::1', port: 5060 }), { instanceOf: TransportError });
  let sync = true;
  const err = await new Promise<Error>((resolve) => {
    layer.send(sip(), { transport: 'udp', address: '::1', port: 5060 }, resolve);
    sync = false;
  });
  t.false(sync, 'onError must not run inside send()');
  t.true(err instanceof TransportError);
  t.regex(err.message, /no udp socket/);
  t.is(layer.stats().sendErrors, 1);
});

test('udp: a host name is refused (resolution belongs above the transport layer)', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'v4', transport: 'udp', address: '127.0.0.1', port: 0 }]);
  const err = await new Promise<Error>((resolve) => layer.send(sip(), { transport: 'udp', address: 'localhost', port: 5060 }, resolve));
  t.true(err instanceof TransportError);
});
