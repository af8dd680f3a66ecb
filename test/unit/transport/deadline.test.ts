// The message deadline: a stream message must arrive whole within a bounded
// time of its first byte, however slowly the bytes trickle in.

import test from 'ava';
import net from 'node:net';
import { WebSocket } from 'ws';
import { portOf, sip, startLayer, waitFor, withTimeout } from './helpers.js';

function connect(port: number, localAddress?: string): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  s.on('error', () => {});
  return withTimeout(new Promise((resolve) => s.once('connect', () => resolve(s))), 3000, 'connect');
}

function closed(s: net.Socket): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => s.once('close', () => resolve(Date.now() - t0)));
}

test('tcp: a message trickled one byte at a time is closed at the deadline, not at the idle timeout', async (t) => {
  const { layer, received } = await startLayer(t, [{ id: 'tcp', transport: 'tcp', address: '127.0.0.1', port: 0 }], {
    messageDeadlineMs: 400,
    tcpIdleTimeoutMs: 60_000,
  });
  const s = await connect(portOf(layer, 'tcp'));
  const msg = sip();
  let i = 0;
  // One byte every 50 ms: the idle timer never fires, the whole message would need ~6 s.
  const drip = setInterval(() => {
    if (!s.destroyed && i < msg.length) s.write(msg.subarray(i, ++i));
  }, 50);
  t.teardown(() => clearInterval(drip));
  const took = await withTimeout(closed(s), 3000, 'the node to close the trickling connection');
  t.true(took >= 350 && took < 1500, `closed after ${took} ms`);
  t.is(received.length, 0);
  t.is(layer.stats().connectionsClosed.message_deadline, 1);
  await waitFor(() => layer.stats().tcpConnections === 0, 'the registry to drop it');
});

test('tcp: a message that stops halfway is closed at the deadline; whole messages in many chunks are not', async (t) => {
  const { layer, received } = await startLayer(t, [{ id: 'tcp', transport: 'tcp', address: '127.0.0.1', port: 0 }], {
    messageDeadlineMs: 400,
  });
  const good = await connect(portOf(layer, 'tcp'));
  const half = await connect(portOf(layer, 'tcp'));
  const halfClosed = closed(half);
  const msg = sip('v=0\r\n');
  half.write(msg.subarray(0, msg.length - 3));
  // The good client sends many whole messages, each split in two chunks 100 ms apart, for longer than the deadline.
  for (let k = 0; k < 6; k++) {
    good.write(msg.subarray(0, 20));
    await new Promise((r) => setTimeout(r, 100));
    good.write(msg.subarray(20));
  }
  await withTimeout(halfClosed, 2000, 'the half message to be closed');
  await waitFor(() => received.length === 6, 'six whole messages');
  t.false(good.destroyed);
  t.is(layer.stats().connectionsClosed.message_deadline, 1);
  // Idle between messages is not a deadline breach.
  await new Promise((r) => setTimeout(r, 600));
  t.false(good.destroyed, 'a connection idle between messages stays open');
  t.is(layer.stats().tcpConnections, 1);
});

test('ws: an upgrade that never completes is closed at the deadline', async (t) => {
  const { layer } = await startLayer(t, [{ id: 'ws', transport: 'ws', address: '127.0.0.1', port: 0 }], {
    messageDeadlineMs: 400,
  });
  const s = await connect(portOf(layer, 'ws'));
  s.write('GET / HTTP/1.1\r\nHost: x\r\n'); // never ends the request head
  const took = await withTimeout(closed(s), 3000, 'the stalled handshake to be closed');
  t.true(took < 1500, `closed after ${took} ms`);
  t.is(layer.stats().connectionsClosed.message_deadline, 1);
});

test('ws: a frame that stops halfway is closed at the deadline; an open quiet connection is not', async (t) => {
  const { layer, next } = await startLayer(t, [{ id: 'ws', transport: 'ws', address: '127.0.0.1', port: 0 }], {
    messageDeadlineMs: 400,
  });
  const quiet = new WebSocket(`ws://127.0.0.1:${portOf(layer, 'ws')}`, 'sip');
  t.teardown(() => quiet.terminate());
  await withTimeout(new Promise((r) => quiet.once('open', r)), 3000, 'ws open');
  quiet.send(sip().toString());
  await next();
  // A raw client: handshake, then half a masked text frame.
  const s = await connect(portOf(layer, 'ws'));
  s.write(
    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n',
  );
  await withTimeout(new Promise((r) => s.once('data', r)), 3000, '101');
  s.write(Buffer.from([0x81, 0x80 | 100, 1, 2, 3, 4, 0x41, 0x42])); // 100-byte payload announced, 2 sent
  await withTimeout(closed(s), 3000, 'the half frame to be closed');
  await new Promise((r) => setTimeout(r, 500));
  t.is(quiet.readyState, WebSocket.OPEN, 'the quiet connection is still open');
  t.is(layer.stats().connectionsClosed.message_deadline, 1);
});
