import test from 'ava';
import { AbuseGuard, type AbuseSettings } from '../../../src/auth/abuse.js';
import { silentLogger } from '../../../src/core/log.js';

const settings: AbuseSettings = { rate: { limit: 30, window: 2, ban: 60 }, failures: { limit: 3, window: 600, ban: 900 } };
const at = { t: 1_700_000_000_000 };
const clock = { now: () => at.t };

/** Three guards whose tables replicate into each other at once, as the bus would a turn later. */
function cluster(n: number): AbuseGuard[] {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const guards = ids.map((id) => new AbuseGuard(settings, id, clock, () => ids, silentLogger()));
  for (const g of guards) {
    g.table.setOutboxListener(() =>
      queueMicrotask(() => {
        for (const r of g.table.takeOutbox()) for (const o of guards) if (o !== g) o.table.merge(r);
      }),
    );
  }
  return guards;
}

const tick = () => new Promise((r) => setImmediate(r));

test('one node: a source over its rate is banned until the ban ends', (t) => {
  const [g] = cluster(1);
  for (let i = 0; i < 30; i++) t.false(g!.request('192.0.2.9'));
  t.true(g!.request('192.0.2.9'), 'the 31st request in the window');
  t.true(g!.isBanned('192.0.2.9'));
  t.false(g!.isBanned('192.0.2.10'), 'another source is not');
  t.like(g!.bans()[0], { source: '192.0.2.9', reason: 'rate', by: 1 });
  g!.request('192.0.2.10');
  t.deepEqual(g!.topSources(), [
    { source: '192.0.2.9', requests: 31 },
    { source: '192.0.2.10', requests: 1 },
  ], 'the busiest sources of this window, busiest first');
  at.t += 61_000;
  t.false(g!.isBanned('192.0.2.9'), 'the ban has ended');
});

test('a burst across a window boundary is not forgiven: the count slides', (t) => {
  const [g] = cluster(1);
  at.t = Math.ceil(at.t / 2000) * 2000 + 1900; // late in a 2 s window
  for (let i = 0; i < 25; i++) t.false(g!.request('192.0.2.44'));
  at.t += 200; // just into the next window: a fixed window would start again from 0
  let banned = false;
  for (let i = 0; i < 10 && !banned; i++) banned = g!.request('192.0.2.44');
  t.true(banned, '25 + 10 requests within 0.3 s are over a limit of 30 per 2 s');
});

test('three nodes: a source spraying every node is held to the limit once, and banned on every node', async (t) => {
  const guards = cluster(3);
  let sent = 0;
  let banned = false;
  // Round robin over the nodes, as per-packet ECMP would; each node alone sees a third.
  while (!banned && sent < 200) {
    banned = guards[sent % 3]!.request('198.51.100.66');
    sent++;
    if (sent % 3 === 0) await tick();
  }
  await tick();
  t.true(banned);
  t.true(sent <= 30 + Math.ceil((30 * 2) / 4) + 3, `banned after ${sent} requests (limit 30; the overshoot is bounded)`);
  t.true(sent > 30, 'not before the limit');
  for (const g of guards) t.true(g.table.get('b\n198.51.100.66') !== undefined, 'banned everywhere');
});

test('failed authentications: the source is banned and the user locked out at the limit', async (t) => {
  const [a, b] = cluster(2);
  // Alternating nodes, each failure replicated before the next (the bus takes one turn).
  for (const g of [a, b, a]) {
    g!.authFailed('203.0.113.5', 'alice@example.com');
    await tick();
  }
  t.false(a!.isBanned('203.0.113.5'), 'three failures: at the limit, not over it');
  b!.authFailed('203.0.113.5', 'alice@example.com');
  await tick();
  t.true(a!.isBanned('203.0.113.5') && b!.isBanned('203.0.113.5'), 'the fourth failure, on either node, bans the source everywhere');
  t.true(a!.isLocked('alice@example.com') && b!.isLocked('alice@example.com'));
  t.false(a!.isLocked('bob@example.com'));
  t.like(b!.counters, { bans_failures: 1, lockouts: 1 }, 'counted on the node that banned');
  t.like(a!.counters, { bans_failures: 0, lockouts: 0 });
});

test('a manual ban and its removal hold on every node', async (t) => {
  const [a, b] = cluster(2);
  a!.ban('192.0.2.77', 3600, 'manual: test');
  await tick();
  t.like(b!.bans(), [{ source: '192.0.2.77', reason: 'manual: test', by: 1 }]);
  t.true(b!.unban('192.0.2.77'));
  await tick();
  t.deepEqual(a!.bans(), []);
  t.false(b!.unban('192.0.2.77'), 'nothing left to remove');
});
