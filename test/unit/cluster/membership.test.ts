import test from 'ava';
import { Writable } from 'node:stream';
import { ClusterBus } from '../../../src/bin-proto/bus.js';
import { pb } from '../../../src/bin-proto/proto.js';
import { ClusterMembership } from '../../../src/cluster/membership.js';
import type { MembershipChange } from '../../../src/cluster/types.js';
import { createLogger } from '../../../src/core/log.js';
import { mesh, sleep, waitFor, withMembership } from './helpers.js';

test('three nodes converge: all up, same up set, view bumped, RTT measured', async (t) => {
  const buses = await mesh(t, 3);
  const ms = buses.map((b) => withMembership(t, b));
  for (const m of ms) m.start();
  const started = Date.now();
  await waitFor(() => ms.every((m) => m.upNodes().join() === '1,2,3'), 2000, 'convergence');
  t.log(`converged in ${Date.now() - started} ms`);
  t.true(ms.every((m) => m.view > 1));
  await waitFor(() => ms[0]!.members().filter((x) => x.id !== 1).every((x) => x.rttMs !== undefined), 2000, 'rtt');
  t.true(ms[0]!.members().every((x) => x.rttMs === undefined || (x.rttMs >= 0 && x.rttMs < 1000)));
  t.deepEqual(ms[1]!.members().map((x) => x.id), [2, 1, 3], 'self first, then peers by id');
});

test('a silent peer is marked down within the failure timeout; onChange reports it', async (t) => {
  const buses = await mesh(t, 3);
  const ms = buses.map((b) => withMembership(t, b, { heartbeatIntervalMs: 50, failureTimeoutMs: 250 }));
  for (const m of ms) m.start();
  await waitFor(() => ms.every((m) => m.upNodes().length === 3), 2000, 'convergence');
  const changes: MembershipChange[] = [];
  ms[0]!.onChange((c) => changes.push(c));
  const view = ms[0]!.view;
  const stoppedAt = Date.now();
  ms[2]!.stop();
  await buses[2]!.stop();
  await waitFor(() => ms[0]!.state(3) === 'down' && ms[1]!.state(3) === 'down', 1000, 'down');
  const took = Date.now() - stoppedAt;
  t.true(took <= 250 + 100, `detected in ${took} ms`);
  t.deepEqual(changes, [{ view: view + 1, node: 3, from: 'up', to: 'down' }]);
  t.deepEqual(ms[0]!.upNodes(), [1, 2]);
});

test('own state changes (draining, drained) reach the peers at once and leave the up set', async (t) => {
  const buses = await mesh(t, 2);
  const ms = buses.map((b) => withMembership(t, b));
  for (const m of ms) m.start();
  await waitFor(() => ms.every((m) => m.upNodes().length === 2), 2000);
  ms[0]!.setState('draining');
  t.is(ms[0]!.ownState, 'draining');
  await waitFor(() => ms[1]!.state(1) === 'draining', 500, 'draining seen');
  t.deepEqual(ms[1]!.upNodes(), [2]);
  ms[0]!.setState('drained');
  await waitFor(() => ms[1]!.state(1) === 'drained', 500, 'drained seen');
  ms[0]!.setState('up');
  await waitFor(() => ms[1]!.state(1) === 'up', 500, 'up again');
  t.pass();
});

/** A membership driven by hand: fake clock, events fed directly, no sockets. */
function manual() {
  let now = 1000;
  const bus = new ClusterBus({ selfId: 1, name: 'n1', cluster: 'c', secret: 'x'.repeat(16), address: '127.0.0.1', port: 0, peers: [{ id: 2, address: '127.0.0.1', port: 9 }], clock: { now: () => now } });
  const m = new ClusterMembership({ bus, name: 'n1', heartbeatIntervalMs: 100, failureTimeoutMs: 400, rejoinAfterMs: 500, joinTimeoutMs: 1000, clock: { now: () => now } });
  const changes: MembershipChange[] = [];
  m.onChange((c) => changes.push(c));
  const priv = m as unknown as { tick(): void; onHeartbeat(src: number, p: Uint8Array): void };
  const up = pb.Heartbeat.encode({ state: 2, view: 1, sentAt: 1 }).finish();
  return {
    m,
    changes,
    at: (t: number) => {
      now = t;
      priv.tick();
    },
    hear: (t: number, epoch = 77) => {
      now = t;
      bus.emit('heard', 2, epoch);
      priv.onHeartbeat(2, up);
    },
  };
}

test('hysteresis: a flapping peer must be heard without a gap for rejoin_after before it is up again', (t) => {
  const h = manual();
  h.hear(1000);
  t.is(h.m.state(2), 'up', 'first contact: up at once');
  h.at(1300);
  t.is(h.m.state(2), 'up');
  h.at(1401 + 100);
  t.is(h.m.state(2), 'down', 'silent > failure_timeout');
  // It flaps: heard, gap, heard...
  h.hear(1600);
  h.at(1650);
  t.is(h.m.state(2), 'down', 'one frame is not enough');
  h.hear(1950); // gap of 350 > 2 heartbeats: the streak restarts
  for (let t2 = 2050; t2 < 1950 + 500; t2 += 100) {
    h.hear(t2);
    t.is(h.m.state(2), 'down', `still down at ${t2}`);
  }
  h.hear(2450);
  t.is(h.m.state(2), 'up', 'heard continuously for rejoin_after');
  t.deepEqual(
    h.changes.filter((c) => c.node === 2).map((c) => `${c.view}:${c.node}:${c.from}->${c.to}`),
    ['2:2:down->up', '4:2:up->down', '5:2:down->up'],
  );
});

test('a restarted peer (new epoch) skips the flap hysteresis', (t) => {
  const h = manual();
  h.hear(1000);
  h.at(1600);
  t.is(h.m.state(2), 'down');
  h.hear(1700, 78);
  t.is(h.m.state(2), 'up');
});

test('joining until every known peer answered or the join timeout passed', (t) => {
  const h = manual();
  t.is(h.m.ownState, 'joining');
  h.at(1500);
  t.is(h.m.ownState, 'joining');
  h.at(2000);
  t.is(h.m.ownState, 'up', 'join timeout: peer 2 never answered');
  t.deepEqual(h.m.upNodes(), [1]);
});

test('joining ends as soon as every known peer has answered', (t) => {
  const h = manual();
  h.hear(1100);
  h.at(1110);
  t.is(h.m.ownState, 'up');
  t.deepEqual(h.m.upNodes(), [1, 2]);
});

test('a listener that throws does not stop the others', async (t) => {
  const h = manual();
  let seen = 0;
  h.m.onChange(() => {
    throw new Error('boom');
  });
  h.m.onChange(() => seen++);
  h.hear(1000);
  t.true(seen > 0);
  const off = h.m.onChange(() => t.fail('unsubscribed'));
  off();
  h.at(2000);
  await sleep(1);
});

test('every membership change is one log line at info or above: joins, down, back, state, own state, with the view', (t) => {
  let now = 1000;
  const lines: { msg: string; level: number; view?: number; peer?: number; from?: string; to?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const log = createLogger({ name: 'membership-log-test', level: 'info', stream });
  const clock = { now: () => now };
  const bus = new ClusterBus({ selfId: 1, name: 'n1', cluster: 'c', secret: 'x'.repeat(16), address: '127.0.0.1', port: 0, peers: [{ id: 2, address: '127.0.0.1', port: 9 }], clock });
  const m = new ClusterMembership({ bus, name: 'n1', heartbeatIntervalMs: 100, failureTimeoutMs: 400, rejoinAfterMs: 500, joinTimeoutMs: 1000, clock, log });
  const priv = m as unknown as { tick(): void; onHeartbeat(src: number, p: Uint8Array): void };
  const heartbeat = (state: number) => pb.Heartbeat.encode({ state, view: 1, sentAt: 1 }).finish();
  const hear = (at: number, state = 2, epoch = 77) => {
    now = at;
    bus.emit('heard', 2, epoch);
    priv.onHeartbeat(2, heartbeat(state));
  };
  const tick = (at: number) => {
    now = at;
    priv.tick();
  };
  hear(1000); // peer 2 joins
  tick(1050); // every known peer answered: own state joining -> up
  hear(1100, 3); // peer 2 drains
  tick(1600); // silent: down
  hear(1700, 2, 78); // restarted: back at once
  m.setState('draining');
  bus.addPeer({ id: 3, address: '127.0.0.1', port: 10 });
  const INFO = 30;
  const WARN = 40;
  t.deepEqual(
    lines.filter((l) => l.msg.startsWith('cluster:')).map((l) => ({ msg: l.msg, level: l.level, view: l.view, from: l.from, to: l.to })),
    [
      { msg: 'cluster: peer joined', level: INFO, view: 2, from: undefined, to: 'up' },
      { msg: 'cluster: own state', level: INFO, view: 3, from: 'joining', to: 'up' },
      { msg: 'cluster: peer state', level: INFO, view: 4, from: 'up', to: 'draining' },
      { msg: 'cluster: peer down', level: WARN, view: 5, from: 'draining', to: undefined },
      { msg: 'cluster: peer restarted', level: INFO, view: undefined, from: undefined, to: undefined },
      { msg: 'cluster: peer joined', level: INFO, view: 6, from: undefined, to: 'up' },
      { msg: 'cluster: own state', level: INFO, view: 7, from: 'up', to: 'draining' },
      { msg: 'cluster: new member', level: INFO, view: undefined, from: undefined, to: undefined },
    ],
  );
  t.is(m.view, 7, 'one line per view change');
});
