import test from 'ava';
import { ReplicaTable } from '../../../src/replica/table.js';
import type { StoredRecord } from '../../../src/replica/types.js';
import { MSG_DELTA, MSG_SYNC_ACK, MSG_SYNC_CHUNK, MSG_SYNC_REQUEST } from '../../../src/replica/wire.js';
import { silentLogger } from '../../../src/core/log.js';
import { Replicator } from '../../../src/replica/replicator.js';
import { contents, ManualClock, ManualGate, ManualScheduler, replica, textKind, World } from './harness.js';

function shuffled<T>(xs: T[], seed: number): T[] {
  const out = xs.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('concurrent writes of the same keys converge to one result whatever order they arrive in', (t) => {
  const clock = new ManualClock();
  const writers = [1, 2, 3].map((id) => new ReplicaTable(textKind, id, clock));
  const written: StoredRecord<string>[] = [];
  for (let i = 0; i < 300; i++) {
    clock.t += i % 7 === 0 ? 0 : 1; // many writes in the same millisecond
    const w = writers[i % 3]!;
    const key = `k${i % 11}`;
    written.push(i % 5 === 4 ? w.remove(key, `gone${i}`) : w.put(key, `v${i}`, clock.t + 30_000));
  }
  const results = [1, 2, 3, 4, 5].map((seed) => {
    const r = new ReplicaTable(textKind, 9, clock);
    for (const rec of shuffled(written, seed)) r.merge({ ...rec });
    return contents(r);
  });
  t.true(results[0]!.length > 0);
  for (const r of results) t.deepEqual(r, results[0]);
});

test('a removal is not overtaken by an older write that arrives late, and is forgotten after the horizon', (t) => {
  const clock = new ManualClock();
  const a = new ReplicaTable(textKind, 1, clock);
  const b = new ReplicaTable(textKind, 2, clock);
  const old = a.put('alice', 'phone', clock.t + 3_600_000);
  clock.t += 10;
  const tomb = a.remove('alice', 'phone');
  t.is(b.merge({ ...tomb }), 'applied');
  t.is(b.merge({ ...old }), 'stale');
  t.is(b.get('alice'), undefined);
  clock.t += textKind.horizonMs + 1;
  b.sweep();
  t.is(b.held, 0, 'the tombstone is gone after the horizon');
  t.is(b.merge({ ...old, expiresAt: clock.t - 1 }), 'expired', 'a write that old cannot be live any more');
});

test('a node whose clock lags still writes after the versions it has seen', (t) => {
  const fast = new ManualClock(2_000_000_000_000);
  const slow = new ManualClock(1_000_000_000_000);
  const a = new ReplicaTable(textKind, 1, fast);
  const b = new ReplicaTable(textKind, 2, slow);
  const first = a.put('k', 'from a', fast.t + 1e12);
  b.merge({ ...first });
  const second = b.put('k', 'from b', slow.t + 2e12);
  t.true(second.time > first.time);
  t.is(a.merge({ ...second }), 'applied');
  t.is(a.get('k')?.value, 'from b');
});

test('expiry is by absolute time: the record is gone at the same moment on every node, without a message', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const n1 = replica(world, 1, clock);
  const n2 = replica(world, 2, clock);
  world.setState(1, 'up');
  world.setState(2, 'up');
  n1.start();
  n2.start();
  n1.table.put('bob', 'x', clock.t + 1000);
  await world.settle();
  t.is(n2.table.get('bob')?.value, 'x');
  const frames = world.sent.length;
  clock.t += 1000;
  t.is(n1.table.get('bob'), undefined);
  t.is(n2.table.get('bob'), undefined);
  t.is(n1.table.sweep(), 1);
  t.is(n2.table.sweep(), 1);
  await world.settle();
  t.is(world.sent.length, frames);
});

test('writes of one event-loop turn travel as one delta frame per peer', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const nodes = [1, 2, 3].map((id) => replica(world, id, clock));
  for (const id of [1, 2, 3]) world.setState(id, 'up');
  for (const n of nodes) n.start();
  for (let i = 0; i < 500; i++) nodes[0]!.table.put(`k${i}`, `v${i}`, clock.t + 60_000);
  await world.settle();
  const deltas = world.sent.filter((f) => f.type === MSG_DELTA);
  t.deepEqual(deltas.map((d) => d.dst).sort(), [2, 3]);
  t.is(nodes[1]!.table.size, 500);
  t.deepEqual(contents(nodes[2]!.table), contents(nodes[0]!.table));
  t.is(nodes[0]!.table.counters.deltas_sent, 2);
});

test('a joining node takes the whole table in chunks, never more than the window unacknowledged', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const donor = replica(world, 1, clock, { chunkRecords: 100 });
  world.setState(1, 'up');
  donor.start();
  for (let i = 0; i < 2500; i++) donor.table.put(`k${i}`, `v${i}`, clock.t + 60_000);
  donor.table.remove('k7', 'v7');
  await world.settle();
  const joiner = replica(world, 2, clock, { window: 3 });
  world.setState(2, 'joining');
  let inFlight = 0;
  let maxInFlight = 0;
  const send = world.send.bind(world);
  world.send = (src, dst, msg) => {
    const ok = send(src, dst, msg);
    if (ok && src === 1 && msg.type === MSG_SYNC_CHUNK) maxInFlight = Math.max(maxInFlight, ++inFlight);
    if (ok && dst === 1 && msg.type === MSG_SYNC_ACK) inFlight--;
    return ok;
  };
  joiner.start();
  await world.settle();
  const s = joiner.replicator.sync;
  t.is(s.state, 'done');
  t.is(s.donor, 1);
  t.is(s.received, 2500, 'live records and the tombstone');
  t.is(s.chunks, 25);
  t.true(maxInFlight <= 3, `at most the window in flight (${maxInFlight})`);
  t.deepEqual(contents(joiner.table), contents(donor.table));
  t.is(joiner.table.get('k7'), undefined);
});

test('with no peer up, the join sync is done at once and says why', (t) => {
  const world = new World();
  const n = replica(world, 1, new ManualClock());
  n.start();
  t.is(n.replicator.sync.state, 'done');
  t.regex(n.replicator.sync.reason ?? '', /no donor/);
});

test('a donor that dies mid-sync fails the attempt; the next attempt takes another donor and ends whole', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const a = replica(world, 1, clock, { chunkRecords: 50 });
  const b = replica(world, 2, clock);
  world.setState(1, 'up');
  world.setState(2, 'up');
  a.start();
  b.start();
  for (let i = 0; i < 1000; i++) a.table.put(`k${i}`, `v${i}`, clock.t + 60_000);
  await world.settle();
  t.is(b.table.size, 1000);
  const joiner = replica(world, 3, clock, { window: 1, retryMs: 1 });
  world.setState(3, 'joining');
  // Node 1 answers the first chunk, then dies.
  const send = world.send.bind(world);
  let chunks = 0;
  world.send = (src, dst, msg) => {
    if (src === 1 && msg.type === MSG_SYNC_CHUNK && ++chunks === 2) {
      world.setState(1, 'down');
      return false;
    }
    return send(src, dst, msg);
  };
  joiner.start();
  for (let i = 0; i < 50 && joiner.replicator.sync.state !== 'done'; i++) {
    await world.settle();
    await new Promise((r) => setTimeout(r, 5));
  }
  const s = joiner.replicator.sync;
  t.is(s.state, 'done');
  t.is(s.donor, 2);
  t.is(s.attempts, 2);
  t.is(joiner.table.size, 1000);
  t.is(joiner.table.counters.syncs_failed, 1);
});

test('bad frames and undecodable records are counted drops, never a throw', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const n1 = replica(world, 1, clock);
  const n2 = replica(world, 2, clock);
  world.setState(1, 'up');
  world.setState(2, 'up');
  n1.start();
  n2.start();
  await world.settle();
  const bus = world.buses.get(1)!;
  bus.send(2, 'location', MSG_DELTA, Buffer.from([0xff, 0xff, 0xff]));
  bus.send(2, 'location', 99, Buffer.alloc(0));
  n1.table.put('ok', 'fine', clock.t + 10_000);
  n1.table.put('bad', '!not decodable', clock.t + 10_000);
  await world.settle();
  t.is(n2.table.get('ok')?.value, 'fine');
  t.is(n2.table.get('bad'), undefined);
  t.is(n2.table.counters.dropped_bad, 3);
});

test('a peer a delta could not reach is offered a pull, and the pull repairs it', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const n1 = replica(world, 1, clock);
  const n2 = replica(world, 2, clock);
  world.setState(1, 'up');
  world.setState(2, 'up');
  n1.start();
  n2.start();
  world.refusing.add('1-2');
  n1.table.put('lost', 'delta', clock.t + 10_000);
  await world.settle();
  t.is(n2.table.get('lost'), undefined);
  t.is(n1.table.counters.send_failures, 1);
  world.refusing.delete('1-2');
  await new Promise((r) => setTimeout(r, 300)); // the replicator's tick offers the pull
  await world.settle();
  t.is(n2.table.get('lost')?.value, 'delta');
});

test('a peer back from down is pulled from: writes made while it was cut off reach this node', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const n1 = replica(world, 1, clock);
  const n2 = replica(world, 2, clock);
  world.setState(1, 'up');
  world.setState(2, 'up');
  n1.start();
  n2.start();
  await world.settle();
  world.memberships.get(1)!.apply(2, 'down');
  world.memberships.get(2)!.apply(1, 'down');
  n2.table.put('during', 'partition', clock.t + 10_000);
  await world.settle();
  t.is(n1.table.get('during'), undefined);
  world.memberships.get(1)!.apply(2, 'up');
  world.memberships.get(2)!.apply(1, 'up');
  await world.settle();
  t.is(n1.table.get('during')?.value, 'partition');
});

test('with a scheduler, every timer runs on it: the join retry, the repair tick, a refused chunk (the simulator replays them)', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const timers = new ManualScheduler();
  const donor = replica(world, 1, clock, {}, timers);
  world.setState(1, 'up');
  donor.start();
  donor.table.put('k', 'v', clock.t + 60_000);
  t.deepEqual(timers.pending, [250], 'the repair tick is armed on the scheduler');
  const joiner = replica(world, 2, clock, { retryMs: 100 }, timers);
  world.setState(2, 'joining');
  world.refusing.add('2-1');
  joiner.start();
  await world.settle();
  t.is(joiner.replicator.sync.state, 'failed');
  t.true(timers.pending.includes(100), 'the retry waits on the scheduler, not on a real timer');
  await new Promise((r) => setTimeout(r, 150));
  t.is(joiner.replicator.sync.attempts, 1, 'nothing ran behind the scheduler');
  world.refusing.delete('2-1');
  world.refusing.add('1-2');
  timers.fire(100);
  await world.settle();
  t.is(joiner.replicator.sync.attempts, 2);
  t.true(timers.pending.includes(50), 'the chunk the bus refused waits on the scheduler');
  world.refusing.delete('1-2');
  timers.fire(50);
  await world.settle();
  t.is(joiner.replicator.sync.state, 'done');
  t.is(joiner.table.get('k')?.value, 'v');
  timers.fire(50);
  await world.settle();
  timers.fire(250);
  t.deepEqual(timers.pending, [250, 250], 'each tick arms the next');
  donor.replicator.stop();
  joiner.replicator.stop();
  t.deepEqual(timers.pending, [], 'stop cancels the tick');
});

test('a node that joins while a peer still sees it down gets that peer\'s writes of the meantime (the peer offers a pull when it sees it back)', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const n1 = replica(world, 1, clock);
  const n2 = replica(world, 2, clock);
  world.setState(1, 'up');
  world.setState(2, 'up');
  n1.start();
  n2.start();
  n1.table.put('old', 'a', clock.t + 60_000);
  await world.settle();
  // Node 3 restarts: node 1 (its donor) sees it joining at once, node 2 only later.
  const n3 = replica(world, 3, clock);
  world.memberships.get(1)!.apply(3, 'joining');
  world.memberships.get(3)!.apply(1, 'up');
  world.memberships.get(3)!.apply(2, 'up');
  n3.start();
  // Node 2 writes while it sees node 3 down: no delta goes to 3, and the donor's snapshot is already taken.
  n2.table.put('meantime', 'b', clock.t + 60_000);
  await world.settle();
  t.is(n3.replicator.sync.state, 'done');
  t.is(n1.table.get('meantime')?.value, 'b');
  world.memberships.get(2)!.apply(3, 'joining');
  await world.settle();
  t.is(n3.table.get('meantime')?.value, 'b');
  t.deepEqual(contents(n3.table), contents(n2.table));
});

test('an offer that arrives while a pull from the same donor runs is pulled again once that pull ends', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const timers = new ManualScheduler();
  const n1 = replica(world, 1, clock, {}, timers);
  world.setState(1, 'up');
  n1.start();
  n1.table.put('old', 'a', clock.t + 60_000);
  await world.settle();
  // Node 2 restarts and asks node 1, which still sees it down: the chunk is refused and waits.
  const n2 = replica(world, 2, clock, {}, timers);
  world.memberships.get(2)!.apply(1, 'up');
  world.refusing.add('1-2');
  n2.start();
  await world.settle();
  t.true(timers.pending.includes(50));
  n1.table.put('meantime', 'b', clock.t + 60_000); // no delta to node 2: node 1 sees it down
  await world.settle();
  world.refusing.delete('1-2');
  world.memberships.get(1)!.apply(2, 'joining'); // node 1 sees it back: offers it a pull
  await world.settle();
  timers.fire(50); // the old chunk, taken before 'meantime', goes now
  await world.settle();
  t.is(n2.replicator.sync.state, 'done');
  t.is(n2.table.get('meantime')?.value, 'b', 'pulled again after the join sync that began before the offer');
  t.deepEqual(contents(n2.table), contents(n1.table));
  n1.replicator.stop();
  n2.replicator.stop();
});

test('a pull offered before the join gate settles is taken as the join sync, and the gate opens when it ends', async (t) => {
  const clock = new ManualClock();
  const world = new World();
  const n1 = replica(world, 1, clock);
  world.setState(1, 'up');
  n1.start();
  n1.table.put('old', 'a', clock.t + 60_000);
  await world.settle();
  // Node 2 restarts; node 1 sees it back and offers a pull before node 2's membership has settled.
  const gate = new ManualGate();
  const timers = new ManualScheduler();
  const n2 = replica(world, 2, clock, {}, timers, gate);
  n2.start();
  t.deepEqual([...gate.holds], ['test sync']);
  world.memberships.get(2)!.apply(1, 'up');
  world.memberships.get(1)!.apply(2, 'joining');
  // The offer reaches node 2 and its pull starts; the gate settles while that pull runs.
  await new Promise((r) => setImmediate(r));
  const requested = world.sent.filter((f) => f.src === 2 && f.type === MSG_SYNC_REQUEST).length;
  const chunks = world.sent.filter((f) => f.src === 1 && f.type === MSG_SYNC_CHUNK).length;
  t.deepEqual([requested, chunks], [1, 0], 'the offered pull is under way, no chunk sent yet');
  gate.settle();
  await world.settle();
  t.is(world.sent.filter((f) => f.src === 2 && f.type === MSG_SYNC_REQUEST).length, 1, 'no second full sync');
  t.is(n2.replicator.sync.state, 'done', JSON.stringify(n2.replicator.sync));
  t.is(n2.replicator.sync.attempts, 1);
  t.deepEqual([...gate.holds], [], 'the hold is released: the node may be up');
  t.deepEqual(contents(n2.table), contents(n1.table));
  n1.replicator.stop();
  n2.replicator.stop();
});

test('each delta record applied reports its lag from the write at the origin, by the clocks; a stale one reports nothing', async (t) => {
  const clock = new ManualClock();
  const slow = new ManualClock(clock.t - 1000); // the writer's clock, 1 s behind
  const world = new World();
  const lags: number[] = [];
  const writer = replica(world, 1, slow);
  const { bus, membership } = world.node(2);
  const table = new ReplicaTable(textKind, 2, clock);
  const reader = new Replicator(table, { bus, membership, clock, log: silentLogger(), onDeltaLag: (ms) => lags.push(ms) });
  for (const id of [1, 2]) world.setState(id, 'up');
  writer.start();
  reader.start();
  await world.settle(); // the join syncs (of empty tables) are done
  writer.table.put('alice', 'a1', clock.t + 60_000);
  writer.table.put('bob', 'b1', clock.t + 60_000);
  clock.t += 30;
  slow.t += 30; // the frame arrives 30 ms after the writes
  await world.settle();
  t.deepEqual(lags.map(Math.round), [1030, 1030], 'the skew is part of the figure: it is by the two clocks');
  world.refusing.add('2-1');
  table.put('carol', 'c2', clock.t + 60_000); // the writer never sees this newer version...
  writer.table.put('carol', 'c1', clock.t + 60_000); // ...so its own, older by its clock, reaches the reader stale
  await world.settle();
  t.is(table.get('carol')?.value, 'c2');
  t.is(table.counters.records_stale, 1);
  t.is(lags.length, 2, 'a stale record is not a propagation');
});
