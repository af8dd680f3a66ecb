import test from 'ava';
import { randomBytes } from 'node:crypto';
import { ClusterBus, MSG_HELLO } from '../../../src/bin-proto/bus.js';
import { deriveKey, encodeBusFrame } from '../../../src/bin-proto/frame.js';
import { pb } from '../../../src/bin-proto/proto.js';
import type { BusMessage } from '../../../src/cluster/types.js';
import { BusError } from '../../../src/core/errors.js';
import { freePort } from '../../e2e/harness.js';
import { SECRET, addrOf, makeBus, mesh, rawClient, sleep, waitFor, withMembership } from './helpers.js';

const key = deriveKey(SECRET);
const linkedAll = (buses: ClusterBus[]) => buses.every((b) => buses.every((o) => o === b || b.linked(o.selfId)));

function inbox(bus: ClusterBus, cap: 'anycast' | 'dialog' = 'anycast'): BusMessage[] {
  const got: BusMessage[] = [];
  bus.handle(cap, (m) => got.push(m));
  return got;
}

test('two buses link once (both dial, one connection kept) and carry messages both ways', async (t) => {
  const [a, b] = await mesh(t, 2);
  await waitFor(() => linkedAll([a!, b!]), 3000, 'link');
  const atA = inbox(a!);
  const atB = inbox(b!);
  t.true(a!.send(2, 'anycast', 5, Buffer.from('to b')));
  t.true(b!.send(1, 'anycast', 6, Buffer.from('to a')));
  await waitFor(() => atA.length === 1 && atB.length === 1);
  t.like(atB[0], { src: 1, capability: 'anycast', type: 5 });
  t.is(Buffer.from(atB[0]!.payload).toString(), 'to b');
  t.like(atA[0], { src: 2, type: 6 });
  await sleep(100); // let a duplicate connection, if any, be retired
  t.is(a!.stats().peers[0]!.connects, 1, 'one link up event at a');
  t.is(b!.stats().peers[0]!.connects, 1, 'one link up event at b');
  t.true(linkedAll([a!, b!]));
});

test('broadcast (dst 0) reaches every peer once; unknown peers and self are refused', async (t) => {
  const buses = await mesh(t, 3);
  await waitFor(() => linkedAll(buses), 3000, 'mesh');
  const boxes = buses.map((b) => inbox(b, 'dialog'));
  t.true(buses[0]!.send(0, 'dialog', 1, Buffer.from('all')));
  await waitFor(() => boxes[1]!.length === 1 && boxes[2]!.length === 1);
  await sleep(50);
  t.is(boxes[0]!.length, 0);
  t.is(boxes[1]!.length, 1);
  t.false(buses[0]!.send(9, 'dialog', 1, Buffer.alloc(0)), 'unknown peer');
  t.false(buses[0]!.send(1, 'dialog', 1, Buffer.alloc(0)), 'self');
  t.is(buses[0]!.stats().drops.no_route, 1);
});

test('a message with no handler for its capability is a counted drop', async (t) => {
  const [a, b] = await mesh(t, 2);
  await waitFor(() => linkedAll([a!, b!]));
  a!.send(2, 'location', 1, Buffer.alloc(1));
  await waitFor(() => (b!.stats().drops.no_handler ?? 0) === 1);
  t.pass();
});

test('bad frames on the bus port are dropped and counted; the real link carries on', async (t) => {
  const [a, b] = await mesh(t, 2);
  await waitFor(() => linkedAll([a!, b!]));
  const atA = inbox(a!);
  const attack = await rawClient(t, a!.port);

  // Signed with the wrong key.
  const wrong = deriveKey('not-the-cluster-secret-000');
  attack.socket.write(encodeBusFrame(wrong, { capability: 'anycast', type: 1, src: 2, dst: 1, seq: 99, epoch: b!.epoch, hops: 0, payload: Buffer.alloc(4) }));
  // A replayed hello of b (seq 1 was b's first frame: already seen).
  const hello = pb.Hello.encode({ nodeId: 2, name: 'n2', epoch: b!.epoch, cluster: 'test' }).finish();
  attack.socket.write(encodeBusFrame(key, { capability: 'membership', type: MSG_HELLO, src: 2, dst: 1, seq: 1, epoch: b!.epoch, hops: 0, payload: hello }));
  // A hello from an older boot of b.
  const old = pb.Hello.encode({ nodeId: 2, name: 'n2', epoch: b!.epoch - 1000, cluster: 'test' }).finish();
  await waitFor(() => (a!.stats().drops.bad_mac ?? 0) === 1 && (a!.stats().drops.replay ?? 0) === 1, 2000, 'bad_mac + replay');
  attack.socket.write(encodeBusFrame(key, { capability: 'membership', type: MSG_HELLO, src: 2, dst: 1, seq: 500, epoch: b!.epoch - 1000, hops: 0, payload: old }));
  await waitFor(() => (a!.stats().drops.replay ?? 0) === 2, 2000, 'older epoch: a replay');
  // A hello addressed to another node is not valid here.
  const elsewhere = await rawClient(t, a!.port);
  elsewhere.socket.write(encodeBusFrame(key, { capability: 'membership', type: MSG_HELLO, src: 2, dst: 3, seq: 501, epoch: b!.epoch, hops: 0, payload: hello }));
  await waitFor(() => (a!.stats().drops.bad_dst ?? 0) === 1 && elsewhere.closed(), 2000, 'bad_dst');

  // A truncated frame: half a frame, then the connection ends.
  const trunc = await rawClient(t, a!.port);
  const f = encodeBusFrame(key, { capability: 'anycast', type: 1, src: 2, dst: 1, seq: 7, epoch: b!.epoch, hops: 0, payload: Buffer.alloc(100) });
  trunc.socket.end(f.subarray(0, 60));
  await waitFor(() => (a!.stats().drops.truncated ?? 0) === 1, 2000, 'truncated');

  // Random bytes: a random length prefix is almost surely oversized (connection closed), else a bad MAC.
  const noise = await rawClient(t, a!.port);
  noise.socket.write(randomBytes(4096));
  await waitFor(() => noise.closed(), 2000, 'noise connection closed');
  t.true((a!.stats().drops.oversized ?? 0) + (a!.stats().drops.bad_mac ?? 0) >= 2);

  // The real link never noticed.
  t.true(a!.linked(2));
  t.true(b!.send(1, 'anycast', 1, Buffer.from('still here')));
  await waitFor(() => atA.length === 1);
  t.is(Buffer.from(atA[0]!.payload).toString(), 'still here');
  t.is(a!.stats().peers.find((p) => p.id === 2)!.connects, 1, 'link not re-established');
});

test('an oversized length prefix closes only that connection', async (t) => {
  const [a, b] = await mesh(t, 2, { maxFrameSize: 4096 });
  await waitFor(() => linkedAll([a!, b!]));
  const atB = inbox(b!);
  const c = await rawClient(t, b!.port);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(4097, 0);
  c.socket.write(head);
  await waitFor(() => c.closed(), 2000, 'closed');
  t.is(b!.stats().drops.oversized, 1);
  a!.send(2, 'anycast', 1, Buffer.alloc(10));
  await waitFor(() => atB.length === 1);
  t.true(b!.linked(1));
});

test('a non-hello frame before the hello is dropped as unestablished; a silent connection times out', async (t) => {
  const [a] = await mesh(t, 1, { handshakeTimeoutMs: 200 });
  const c = await rawClient(t, a!.port);
  c.socket.write(encodeBusFrame(key, { capability: 'anycast', type: 1, src: 5, dst: 1, seq: 1, epoch: 10, hops: 0, payload: Buffer.alloc(1) }));
  await waitFor(() => (a!.stats().drops.unestablished ?? 0) === 1);
  await waitFor(() => c.closed(), 2000, 'handshake timeout');
  t.pass();
});

test('the send queue is bounded: overflow is refused and counted, never buffered', async (t) => {
  const [a, b] = await mesh(t, 2, { sendQueueLimit: 256 * 1024 });
  await waitFor(() => linkedAll([a!, b!]));
  const got = inbox(b!);
  const big = Buffer.alloc(60 * 1024);
  let ok = 0;
  let refused = 0;
  for (let i = 0; i < 200; i++) (a!.send(2, 'anycast', 1, big) ? ok++ : refused++);
  t.true(refused > 0, 'some were refused');
  t.true(ok >= 4, 'up to the limit was queued');
  t.is(a!.stats().drops.queue_full, refused);
  t.true(a!.stats().peers[0]!.queued <= 256 * 1024);
  await waitFor(() => got.length === ok, 5000, 'queued ones delivered');
  t.true(a!.send(2, 'anycast', 1, big), 'room again once drained');
});

test('a frame is relayed once through a node that reaches the destination when the direct link is down', async (t) => {
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const dead = await freePort(); // nothing listens here: the 1 <-> 2 link can never form
  const a = makeBus(t, 1, { port: p1, peers: [{ id: 2, address: '127.0.0.1', port: dead }, { id: 3, address: '127.0.0.1', port: p3 }] });
  const b = makeBus(t, 2, { port: p2, peers: [{ id: 1, address: '127.0.0.1', port: dead }, { id: 3, address: '127.0.0.1', port: p3 }] });
  const c = makeBus(t, 3, { port: p3, peers: [{ id: 1, address: '127.0.0.1', port: p1 }, { id: 2, address: '127.0.0.1', port: p2 }] });
  for (const bus of [a, b, c]) await bus.start();
  const ms = [a, b, c].map((bus) => withMembership(t, bus));
  for (const m of ms) m.start();
  await waitFor(() => a.route(2) === 'relay' && b.route(1) === 'relay', 3000, 'relay routes');
  t.false(a.linked(2));
  await waitFor(() => ms[0]!.state(2) === 'up' && ms[1]!.state(1) === 'up', 3000, 'membership through the relay');
  const atB = inbox(b);
  t.true(a.send(2, 'anycast', 3, Buffer.from('via 3')));
  await waitFor(() => atB.length === 1);
  t.like(atB[0], { src: 1, type: 3 });
  t.true(c.stats().peers.find((p) => p.id === 1)!.relayed > 0, 'node 3 relayed');
});

test('a relayed frame is not relayed again, and a direct-only frame for someone else is not relayed', async (t) => {
  const [a, b] = await mesh(t, 2);
  await waitFor(() => linkedAll([a!, b!]));
  // b sends a frame for node 9 with hops 0 on its link to a: a must not forward it.
  const inner = (b as unknown as { peers: Map<number, { link?: { socket: import('node:net').Socket } }> }).peers.get(1)!.link!.socket;
  inner.write(encodeBusFrame(key, { capability: 'anycast', type: 1, src: 2, dst: 9, seq: 1_000_000, epoch: b!.epoch, hops: 0, payload: Buffer.alloc(1) }));
  // and a frame claiming to come from node 7 through b, for node 9: two hops.
  inner.write(encodeBusFrame(key, { capability: 'anycast', type: 1, src: 7, dst: 9, seq: 5, epoch: 3, hops: 1, payload: Buffer.alloc(1) }));
  await waitFor(() => (a!.stats().drops.bad_hops ?? 0) === 2, 2000, 'bad_hops x2');
  t.true(a!.linked(2));
});

test('a second node claiming a live id is refused loudly; the cluster keeps the old one', async (t) => {
  const [a, b] = await mesh(t, 2);
  await waitFor(() => linkedAll([a!, b!]));
  const atA = inbox(a!);
  const intruder = makeBus(t, 2, { epoch: b!.epoch + 1000, peers: [addrOf(a!)] });
  const fatal = new Promise<BusError>((resolve) => intruder.once('fatal', resolve));
  await intruder.start();
  const err = await fatal;
  t.true(err instanceof BusError);
  t.is(err.code, 'BUS_ID_IN_USE');
  t.regex(err.message, /node id 2 is already in use by n2/);
  t.is(a!.stats().drops.id_conflict, 1);
  t.false(intruder.send(1, 'anycast', 1, Buffer.alloc(1)), 'a refused node sends nothing');
  // The old node 2 still talks to 1.
  t.true(b!.send(1, 'anycast', 1, Buffer.from('old')));
  await waitFor(() => atA.length === 1);
  t.is(a!.stats().peers[0]!.epoch, b!.epoch);
});

test('an intruder dialling the holder of its own id is refused by the holder (older boot wins)', async (t) => {
  const [a] = await mesh(t, 1);
  const intruder = makeBus(t, 1, { epoch: a!.epoch + 5 });
  const fatal = new Promise<BusError>((resolve) => intruder.once('fatal', resolve));
  let aFatal = false;
  a!.on('fatal', () => (aFatal = true));
  await intruder.start();
  // a believes some node 5 lives at the intruder's address; the intruder answers as node 1.
  a!.addPeer({ id: 5, address: '127.0.0.1', port: intruder.port });
  const err = await fatal;
  t.is(err.code, 'BUS_ID_IN_USE');
  t.regex(err.message, /node id 1 is already in use by n1/);
  t.false(aFatal);
});

test('a restarted node (new epoch, same address) is accepted at once after its old link died', async (t) => {
  const [a, b] = await mesh(t, 2);
  await waitFor(() => linkedAll([a!, b!]));
  const port = b!.port;
  const restarts: number[] = [];
  a!.on('restart', (id) => restarts.push(id));
  await b!.stop();
  await waitFor(() => !a!.linked(2), 2000, 'link down');
  const b2 = makeBus(t, 2, { port, peers: [addrOf(a!)] });
  await b2.start();
  await waitFor(() => a!.linked(2) && b2.linked(1), 3000, 'relinked');
  t.deepEqual(restarts, [2]);
  t.is(a!.stats().peers[0]!.epoch, b2.epoch);
  const got = inbox(a!);
  b2.send(1, 'anycast', 1, Buffer.from('new boot'));
  await waitFor(() => got.length === 1);
  t.pass();
});

test('a hello from another cluster name is refused and counted', async (t) => {
  const [a] = await mesh(t, 1);
  const other = makeBus(t, 2, { cluster: 'other', peers: [addrOf(a!)] });
  await other.start();
  await waitFor(() => (a!.stats().drops.cluster_mismatch ?? 0) >= 1, 2000, 'mismatch');
  t.false(a!.linked(2));
});

test('reconnects with backoff after the peer comes back on the same port', async (t) => {
  const [a, b] = await mesh(t, 2);
  await waitFor(() => linkedAll([a!, b!]));
  const port = a!.port;
  await a!.stop();
  await waitFor(() => !b!.linked(1));
  await sleep(300); // several failed attempts
  const a2 = makeBus(t, 1, { port });
  await a2.start();
  await waitFor(() => b!.linked(1) && a2.linked(2), 3000, 'b redialled a');
  t.pass();
});
