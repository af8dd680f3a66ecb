// Messages over maxMessageSize: handed up flagged (Envelope.oversize) so the node can answer 513;
// a TCP connection is then half-closed after the answer, never reset under it.

import test from 'ava';
import net from 'node:net';
import { StreamFramer } from '../../../src/transport/stream-framer.js';
import type { Envelope } from '../../../src/transport/types.js';
import { nextDatagram, portOf, sip, startLayer, udpClient, waitFor, withTimeout } from './helpers.js';

const ANSWER = Buffer.from('SIP/2.0 513 Message Too Large\r\nCall-ID: t1\r\nContent-Length: 0\r\n\r\n', 'latin1');

test('tcp: headers of a message over the limit are handed up flagged, answered, then the connection is half-closed', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'tcp1', transport: 'tcp', address: '127.0.0.1', port: 0 }], { maxMessageSize: 1024 });
  const seen: Array<{ data: string; env: Envelope }> = [];
  layer.onMessage = (data, env) => {
    seen.push({ data: data.toString('latin1'), env });
    // Answer at once on the connection, as the node's ingress does.
    if (env.oversize !== undefined) layer.send(ANSWER, { transport: 'tcp', address: env.remote.address, port: env.remote.port, connectionId: env.connectionId });
  };
  const socket = net.connect({ host: '127.0.0.1', port: portOf(layer, 'tcp1') });
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  const got: Buffer[] = [];
  const framer = new StreamFramer();
  framer.onMessage = (m) => got.push(Buffer.from(m));
  socket.on('data', (d: Buffer) => framer.push(d));
  let ended = false;
  socket.on('end', () => (ended = true));
  await withTimeout(new Promise<void>((r) => socket.once('connect', () => r())), 3000, 'connect');

  const small = sip('hi');
  const big = sip('x'.repeat(5000));
  const head = big.subarray(0, big.indexOf('\r\n\r\n') + 4);
  socket.write(Buffer.concat([small, big.subarray(0, head.length + 700)]));
  await waitFor(() => ended, 'the half-close (FIN) from the layer');
  // The rest of the body still arrives: it is read and dropped, not answered with a reset.
  socket.write(big.subarray(head.length + 700));

  t.is(seen.length, 2);
  t.is(seen[0]!.data, small.toString('latin1'));
  t.is(seen[0]!.env.oversize, undefined);
  t.is(seen[1]!.data, head.toString('latin1'), 'the header section alone');
  t.is(seen[1]!.env.oversize, big.length, 'the declared size');
  t.deepEqual(got, [ANSWER], 'the answer was written before the FIN');
  socket.end();
  await waitFor(() => layer.stats().tcpConnections === 0, 'the connection to close');
  const s = layer.stats();
  t.is(s.connectionsClosed.too_large, 1);
  t.is(s.connectionsClosed.framing, 0);
  t.is(s.framingErrors, 0);
});

test('tcp: a half-closed connection carries nothing more; a later send opens a new one', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'tcp1', transport: 'tcp', address: '127.0.0.1', port: 0 }], { maxMessageSize: 1024 });
  const server = net.createServer();
  const accepted: net.Socket[] = [];
  const messages: string[] = [];
  server.on('connection', (s) => {
    accepted.push(s);
    s.on('error', () => {});
    const f = new StreamFramer();
    f.onMessage = (m) => messages.push(m.toString('latin1'));
    s.on('data', (d: Buffer) => {
      try {
        f.push(d);
      } catch {
        // the over-size message itself
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of accepted) s.destroy();
    server.close();
  });
  const port = (server.address() as net.AddressInfo).port;
  // The peer is the one sending too much here: the layer opened the connection, the peer answers on it.
  layer.onMessage = () => {};
  layer.send(sip('first'), { transport: 'tcp', address: '127.0.0.1', port });
  await waitFor(() => accepted.length === 1 && messages.length === 1, 'the first message at the peer');
  accepted[0]!.write(sip('y'.repeat(3000)).subarray(0, 200));
  await waitFor(() => layer.stats().connectionsClosed.too_large === 1, 'the half-close');
  layer.send(sip('second'), { transport: 'tcp', address: '127.0.0.1', port });
  await waitFor(() => messages.length === 2, 'the second message at the peer');
  t.is(accepted.length, 2, 'sent on a new connection');
  t.true(messages[1]!.endsWith('second'));
});

test('udp: a datagram over the limit is delivered whole, flagged with its size', async (t) => {
  const { layer, next } = await startLayer(t, [{ id: 'edge', transport: 'udp', address: '127.0.0.1', port: 0 }], { maxMessageSize: 1024 });
  const client = await udpClient(t, '127.0.0.1');
  const big = sip('z'.repeat(1500));
  const small = sip('ok');
  client.send(big, portOf(layer, 'edge'), '127.0.0.1');
  const first = await next();
  client.send(small, portOf(layer, 'edge'), '127.0.0.1');
  const second = await next();
  t.deepEqual(first.data, big);
  t.is(first.env.oversize, big.length);
  t.deepEqual(second.data, small);
  t.is(second.env.oversize, undefined, 'a datagram within the limit is not flagged');
  void nextDatagram;
});
