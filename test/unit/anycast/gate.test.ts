import test from 'ava';
import { ownerOf } from '../../../src/anycast/rendezvous.js';
import { decodeForward, decodeRelay, encodeForward, MSG_FORWARD, MSG_QUERY, MSG_RELAY } from '../../../src/anycast/wire.js';
import { serverKey } from '../../../src/tm/matching.js';
import { BranchCodec } from '../../../src/tm/branch.js';
import { Cluster, env, invite, response, SECRET } from './harness.js';

/** A Call-ID whose rendezvous owner over `nodes` is `owner` (and, if given, `prevOwner` over `prev`). */
function callIdOwnedBy(owner: number, nodes: number[], prev?: { owner: number; nodes: number[] }): string {
  for (let i = 0; ; i++) {
    const id = `call-${i}@test`;
    if (ownerOf(id, nodes) === owner && (!prev || ownerOf(id, prev.nodes) === prev.owner)) return id;
  }
}

// ---- replies -------------------------------------------------------------------------

test('a reply tagged for another node crosses the bus once and is re-injected there with the original envelope', (t) => {
  const c = new Cluster([1, 2, 3]);
  const branch = new BranchCodec(SECRET, 2).encode();
  const e = env('198.51.100.7', 5099, { receivedAt: 0 });
  c.now = 3;
  c.node(1).anycast.gate.receive(response(180, branch), e);
  t.is(c.node(1).tm.got.length, 0, 'not processed at the receiving node');
  t.is(c.queue.length, 1);
  t.is(c.queue[0]!.dst, 2);
  t.is(c.queue[0]!.msg.type, MSG_FORWARD);
  c.flush();
  const got = c.node(2).tm.got;
  t.is(got.length, 1);
  t.is(got[0]!.msg.status, 180);
  t.deepEqual(got[0]!.env.remote, { address: '198.51.100.7', port: 5099 });
  t.is(got[0]!.env.socketId, 'anycast-udp');
  t.is(got[0]!.env.hops, 1);
  t.is(c.node(2).anycast.metrics.snapshot().forwarded.reply, 1);
  t.is(c.node(1).anycast.metrics.snapshot().sent.forward, 1);
  t.is(c.node(3).tm.got.length, 0);
});

test('own, stateless and foreign-vendor replies stay here', (t) => {
  const c = new Cluster([1, 2]);
  const own = new BranchCodec(SECRET, 1).encode();
  const stateless = new BranchCodec(SECRET, 1).encodeStateless('z9hG4bK-x');
  for (const b of [own, stateless, 'z9hG4bK-other-vendor']) c.node(1).anycast.gate.receive(response(200, b), env());
  t.is(c.node(1).tm.got.length, 3);
  t.is(c.queue.length, 0);
});

test('a reply with a bad MAC is dropped at the receiving node and never reaches the bus', (t) => {
  const c = new Cluster([1, 2]);
  const forged = new BranchCodec('another-cluster-secret', 2).encode();
  c.node(1).anycast.gate.receive(response(200, forged), env());
  t.is(c.queue.length, 0);
  t.is(c.node(1).tm.got.length, 0);
  t.deepEqual(c.node(1).drops, ['bad_mac']);
});

test('a reply for a dead owner is counted and dropped', (t) => {
  const c = new Cluster([1, 2, 3]);
  c.change(2, 'down');
  c.node(1).anycast.gate.receive(response(200, new BranchCodec(SECRET, 2).encode()), env());
  t.is(c.queue.length, 0);
  t.deepEqual(c.node(1).drops, ['owner_down']);
});

// ---- requests, hash mode ---------------------------------------------------------------

test('hash mode: a request goes to the rendezvous owner of its Call-ID in one hop, and is never forwarded again', (t) => {
  const c = new Cluster([1, 2, 3]);
  const callId = callIdOwnedBy(3, [1, 2, 3]);
  c.node(1).anycast.gate.receive(invite(callId), env());
  t.is(c.node(1).tm.got.length, 0);
  c.flush();
  t.is(c.node(3).tm.got.length, 1);
  t.is(c.node(3).tm.got[0]!.env.hops, 1);
  t.is(c.node(3).anycast.metrics.snapshot().forwarded.initial, 1);
  // The owner, whatever its own view says, never forwards a message that already made a hop.
  c.node(3).membership.apply(3, 'draining');
  c.node(3).anycast.gate.receive(invite(callId, 'z9hG4bK-again'), env('192.0.2.10', 5060, { hops: 1 }));
  t.is(c.queue.length, 0);
  t.is(c.node(3).tm.got.length, 2);
});

test('hash mode: the owner keeps its own requests; a node holding the transaction keeps it whoever owns the key', (t) => {
  const c = new Cluster([1, 2, 3]);
  const mine = callIdOwnedBy(1, [1, 2, 3]);
  c.node(1).anycast.gate.receive(invite(mine), env());
  t.is(c.node(1).tm.got.length, 1);
  const theirs = callIdOwnedBy(2, [1, 2, 3]);
  const req = invite(theirs);
  c.node(1).tm.keys.add(serverKey(req, 'INVITE'));
  c.node(1).anycast.gate.receive(req, env());
  t.is(c.node(1).tm.got.length, 2);
  t.is(c.queue.length, 0);
});

test('hash mode: CANCEL and ACK without a transaction here follow the Call-ID, like the INVITE did', (t) => {
  const c = new Cluster([1, 2, 3]);
  const callId = callIdOwnedBy(2, [1, 2, 3]);
  c.node(3).anycast.gate.receive(invite(callId, 'z9hG4bK-b1', 'CANCEL'), env());
  c.node(1).anycast.gate.receive(invite(callId, 'z9hG4bK-b1', 'ACK'), env());
  c.flush();
  t.deepEqual(c.node(2).tm.got.map((g) => g.msg.method), ['CANCEL', 'ACK']);
  const s = c.node(2).anycast.metrics.snapshot().forwarded;
  t.is(s.cancel, 1);
  t.is(s.ack, 1);
});

test('a forwarded message that claims a hop already is dropped (hop limit), not processed or forwarded', (t) => {
  const c = new Cluster([1, 2]);
  const data = invite('x@test').serialize();
  c.node(2).bus.deliver({ src: 1, capability: 'anycast', type: MSG_FORWARD, payload: encodeForward(env('192.0.2.1', 5060, { hops: 1 }), data, 0) });
  t.is(c.node(2).tm.got.length, 0);
  t.deepEqual(c.node(2).drops, ['hop_limit']);
});

test('malformed bus payloads are counted drops, never exceptions', (t) => {
  const c = new Cluster([1, 2]);
  for (const type of [1, 2, 3, 4, 99]) {
    t.notThrows(() => c.node(2).bus.deliver({ src: 1, capability: 'anycast', type, payload: Buffer.from([1, 2, 3]) }));
  }
  t.is(c.node(2).drops.filter((d) => d === 'bad_bus_payload').length, 5);
});

// ---- second chance -----------------------------------------------------------------------

test('second chance: after a join, a key that moved is first asked at its previous owner, which gets it if it holds it', (t) => {
  const c = new Cluster([1, 2, 3], {}, new Map([[1, 'up'], [2, 'up'], [3, 'joining']]));
  const callId = callIdOwnedBy(3, [1, 2, 3], { owner: 2, nodes: [1, 2] });
  const inv = invite(callId, 'z9hG4bK-sc');
  c.node(2).tm.keys.add(serverKey(inv, 'INVITE')); // node 2 took this INVITE before node 3 was up
  c.change(3, 'up');
  // Its CANCEL lands on node 1: owner now 3, previous owner 2.
  c.node(1).anycast.gate.receive(invite(callId, 'z9hG4bK-sc', 'CANCEL'), env());
  t.is(c.queue.length, 1);
  t.is(c.queue[0]!.msg.type, MSG_QUERY);
  t.is(c.queue[0]!.dst, 2);
  c.flush();
  t.deepEqual(c.node(2).tm.got.map((g) => g.msg.method), ['CANCEL']);
  t.is(c.node(3).tm.got.length, 0);
  t.is(c.node(1).anycast.metrics.snapshot().secondChance, 1);
  t.is(c.node(1).anycast.gate.pendingQueries, 0);
});

test('second chance: a new call on a moved key goes to the new owner once the previous one says no', (t) => {
  const c = new Cluster([1, 2, 3], {}, new Map([[1, 'up'], [2, 'up'], [3, 'joining']]));
  const callId = callIdOwnedBy(3, [1, 2, 3], { owner: 2, nodes: [1, 2] });
  c.change(3, 'up');
  c.node(1).anycast.gate.receive(invite(callId), env());
  c.flush();
  t.is(c.node(3).tm.got.length, 1);
  t.is(c.node(2).tm.got.length, 0);
  t.is(c.node(1).anycast.metrics.snapshot().secondChance, 0);
});

test('second chance: no answer within query_timeout counts as "not there"', (t) => {
  const c = new Cluster([1, 2, 3], { query_timeout: 50 }, new Map([[1, 'up'], [2, 'up'], [3, 'joining']]));
  const callId = callIdOwnedBy(3, [1, 2, 3], { owner: 2, nodes: [1, 2] });
  c.change(3, 'up');
  c.node(1).anycast.gate.receive(invite(callId), env());
  c.queue.length = 0; // the query is lost
  c.advance(49);
  t.is(c.node(1).anycast.gate.pendingQueries, 1);
  c.advance(1);
  t.is(c.node(1).anycast.gate.pendingQueries, 0);
  c.flush();
  t.is(c.node(3).tm.got.length, 1);
  t.is(c.node(1).anycast.metrics.snapshot().queries.timeout, 1);
});

test('second chance ends with the grace period', (t) => {
  const c = new Cluster([1, 2, 3], { second_chance: 1000 }, new Map([[1, 'up'], [2, 'up'], [3, 'joining']]));
  const callId = callIdOwnedBy(3, [1, 2, 3], { owner: 2, nodes: [1, 2] });
  c.change(3, 'up');
  c.advance(1000);
  c.node(1).anycast.gate.receive(invite(callId), env());
  t.is(c.queue[0]!.msg.type, MSG_FORWARD);
  t.is(c.queue[0]!.dst, 3);
});

test('a node that said "not here" sends later copies of that request to the asker, and the asker drops forwarded copies it sent on', (t) => {
  const c = new Cluster([1, 2, 3], {}, new Map([[1, 'up'], [2, 'up'], [3, 'joining']]));
  const callId = callIdOwnedBy(3, [1, 2, 3], { owner: 2, nodes: [1, 2] });
  c.change(3, 'up');
  const inv = invite(callId, 'z9hG4bK-dup');
  c.node(1).anycast.gate.receive(inv, env());
  c.flush(); // node 2 said no; node 1 sent it to node 3
  t.is(c.node(3).tm.got.length, 1);
  // A copy reaches node 2, whose view is behind (it still thinks it owns the key).
  c.node(2).membership.apply(3, 'joining');
  c.node(2).anycast.gate.receive(invite(callId, 'z9hG4bK-dup'), env());
  t.is(c.node(2).tm.got.length, 0, 'not started a second time');
  t.is(c.queue[0]!.dst, 1);
  c.flush();
  t.is(c.node(1).tm.got.length, 0);
  t.deepEqual(c.node(1).drops, ['duplicate_elsewhere']);
});

// ---- receiver mode -------------------------------------------------------------------------

test('receiver mode: a new request is looked up on every peer, then kept by the node that received it', (t) => {
  const c = new Cluster([1, 2, 3], { mode: 'receiver' });
  c.node(2).anycast.gate.receive(invite('r1@test'), env());
  t.deepEqual(c.queue.map((q) => [q.dst, q.msg.type]), [[1, MSG_QUERY], [3, MSG_QUERY]]);
  c.flush();
  t.is(c.node(2).tm.got.length, 1);
  t.is(c.node(1).tm.got.length + c.node(3).tm.got.length, 0);
});

test('receiver mode: a stray CANCEL goes to the node holding its INVITE', (t) => {
  const c = new Cluster([1, 2, 3], { mode: 'receiver' });
  const inv = invite('r2@test', 'z9hG4bK-r2');
  c.node(3).tm.keys.add(serverKey(inv, 'INVITE'));
  c.node(1).anycast.gate.receive(invite('r2@test', 'z9hG4bK-r2', 'CANCEL'), env());
  c.flush();
  t.deepEqual(c.node(3).tm.got.map((g) => g.msg.method), ['CANCEL']);
  t.is(c.node(1).tm.got.length, 0);
});

test('receiver mode: two nodes getting the same new request at once agree that the lower id takes it', (t) => {
  const c = new Cluster([1, 2, 3], { mode: 'receiver' });
  c.node(3).anycast.gate.receive(invite('r3@test', 'z9hG4bK-r3'), env());
  c.node(2).anycast.gate.receive(invite('r3@test', 'z9hG4bK-r3'), env());
  // Both ask before either hears the other.
  c.flush((m) => {
    if (m.msg.type === MSG_FORWARD) {
      const f = decodeForward(m.msg.payload)!;
      t.is(f.env.hops, 0);
    }
    return true;
  });
  t.is(c.node(2).tm.got.length, 2, 'its own copy and node 3s');
  t.is(c.node(3).tm.got.length, 0);
});

// ---- TCP: responses to another node's connection ------------------------------------------------

test('a request that came over TCP on another node is answered over the bus, on that node\'s connection', (t) => {
  const c = new Cluster([1, 2]);
  const callId = callIdOwnedBy(2, [1, 2]);
  c.node(1).anycast.gate.receive(invite(callId), env('198.51.100.9', 40000, { transport: 'tcp', connectionId: 7, socketId: 'tcp' }));
  c.flush();
  const got = c.node(2).tm.got[0]!;
  t.is(got.env.transport, 'tcp');
  t.true(got.env.connectionId! > 1_000_000, 'a synthetic local id');
  // The owner answers to that id through the anycast sender.
  c.node(2).anycast.sender.send(Buffer.from('SIP/2.0 100 Trying\r\n\r\n'), {
    transport: 'tcp',
    address: '198.51.100.9',
    port: 40000,
    connectionId: got.env.connectionId,
  });
  t.is(c.node(2).transport.sent.length, 0);
  t.is(c.queue[0]!.msg.type, MSG_RELAY);
  t.is(decodeRelay(c.queue[0]!.msg.payload)!.dest.connectionId, 7);
  c.flush();
  const out = c.node(1).transport.sent;
  t.is(out.length, 1);
  t.is(out[0]!.dest.connectionId, 7);
  t.is(out[0]!.data.toString('latin1'), 'SIP/2.0 100 Trying\r\n\r\n');
});

test('sends to ordinary destinations go straight to the local transport', (t) => {
  const c = new Cluster([1]);
  c.node(1).anycast.sender.send(Buffer.from('x'), { transport: 'udp', address: '192.0.2.1', port: 5060 });
  c.node(1).anycast.sender.send(Buffer.from('y'), { transport: 'tcp', address: '192.0.2.1', port: 5060, connectionId: 3 });
  t.is(c.node(1).transport.sent.length, 2);
  t.is(c.queue.length, 0);
});

test('a single up node keeps everything', (t) => {
  const c = new Cluster([1]);
  c.node(1).anycast.gate.receive(invite('solo@test'), env());
  c.node(1).anycast.gate.receive(response(200, new BranchCodec(SECRET, 1).encode()), env());
  t.is(c.node(1).tm.got.length, 2);
  t.is(c.queue.length, 0);
});

test('receiver mode: a copy forwarded to a node that is still asking about it waits, then is dropped as a duplicate', (t) => {
  const c = new Cluster([1, 2, 3], { mode: 'receiver' });
  const inv = invite('r4@test', 'z9hG4bK-r4');
  c.node(1).tm.keys.add(serverKey(inv, 'INVITE'));
  c.node(3).anycast.gate.receive(invite('r4@test', 'z9hG4bK-r4', 'CANCEL'), env());
  // Node 2 got a copy too and, believing node 3 has it, forwards it there before node 3 heard back.
  const copy = invite('r4@test', 'z9hG4bK-r4', 'CANCEL').serialize();
  c.node(3).bus.deliver({ src: 2, capability: 'anycast', type: MSG_FORWARD, payload: encodeForward(env(), copy, 0) });
  t.is(c.node(3).tm.got.length, 0);
  c.flush();
  t.deepEqual(c.node(1).tm.got.map((g) => g.msg.method), ['CANCEL']);
  t.is(c.node(3).tm.got.length, 0);
  t.deepEqual(c.node(3).drops, ['duplicate_elsewhere']);
});

test('a node that restarts learns the recent views from a peer, so its second chance covers moves made before it came up', (t) => {
  const c = new Cluster([1, 2, 3], {}, new Map([[1, 'up'], [2, 'up'], [3, 'joining']]));
  const callId = callIdOwnedBy(3, [1, 2, 3], { owner: 2, nodes: [1, 2] });
  const inv = invite(callId, 'z9hG4bK-h1');
  c.node(2).tm.keys.add(serverKey(inv, 'INVITE')); // taken while node 3 was not up yet
  c.change(3, 'up');
  // Node 1 restarts: a fresh gate whose first view already has 3 up.
  const fresh = c.addNode(1, new Map([[1, 'up'], [2, 'up'], [3, 'up']]));
  t.is(c.flush(), 2, 'HISTORY? and HISTORY');
  fresh.anycast.gate.receive(invite(callId, 'z9hG4bK-h1', 'ACK'), env());
  t.is(c.queue[0]!.msg.type, MSG_QUERY);
  t.is(c.queue[0]!.dst, 2);
  c.flush();
  t.deepEqual(c.node(2).tm.got.map((g) => g.msg.method), ['ACK']);
  t.is(c.node(3).tm.got.length, 0);
});
