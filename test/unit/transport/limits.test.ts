// Connection caps: per source IP and in total, defaults from the fd limit,
// refusals counted and logged at most once per source per interval.

import test from 'ava';
import net from 'node:net';
import { Writable } from 'node:stream';
import { WebSocket } from 'ws';
import { createLogger } from '../../../src/core/log.js';
import {
  ConnectionLimits,
  defaultMaxConnections,
  defaultMaxConnectionsPerSource,
  sourceKey,
  fdLimit,
} from '../../../src/transport/limits.js';
import { portOf, sip, startLayer, waitFor, withTimeout } from './helpers.js';

function logSink(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ name: 'test', level: 'info', stream }), lines };
}

/** Resolves true if the connection stays open for `ms`, false if the node closes it. */
async function staysOpen(port: number, localAddress: string, ms = 150): Promise<{ open: boolean; socket: net.Socket }> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => {});
  await withTimeout(new Promise((r) => socket.once('connect', r)), 3000, 'connect');
  const open = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(true), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  return { open, socket };
}

test('fd limit: read from the process, and the default caps keep a reserve', (t) => {
  const limit = fdLimit();
  t.true(Number.isInteger(limit) && limit > 0);
  const total = defaultMaxConnections(20_000);
  t.is(total, 18_000, '10% reserve');
  t.is(defaultMaxConnections(1024), 1024 - 128, 'at least 128 kept back');
  t.is(defaultMaxConnections(100), 16, 'never below 16');
  t.is(defaultMaxConnectionsPerSource(18_000), 1800);
  t.is(defaultMaxConnectionsPerSource(16), 16);
  t.true(defaultMaxConnections() < limit, 'the derived default is below the real limit');
});

test('limits: per-source and total caps, refusals counted by reason, released on close', (t) => {
  const refused = { per_source: 0, total: 0 };
  const l = new ConnectionLimits({ maxConnections: 3, maxConnectionsPerSource: 2 }, refused);
  t.true(l.admit('10.0.0.1'));
  t.true(l.admit('10.0.0.1'));
  t.false(l.admit('10.0.0.1'));
  t.true(l.admit('10.0.0.2'));
  t.false(l.admit('10.0.0.3'));
  t.deepEqual(refused, { per_source: 1, total: 1 });
  l.release('10.0.0.1');
  t.is(l.count, 2);
  t.true(l.admit('10.0.0.3'));
  l.release('10.0.0.9'); // never admitted: ignored
  t.is(l.count, 3);
});

test('limits: an IPv6 source is its /64, however the address is spelled; IPv4 is the address itself', (t) => {
  t.is(sourceKey('192.0.2.7'), '192.0.2.7');
  t.is(sourceKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  t.is(sourceKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  t.is(sourceKey('2001:0DB8:0001:0002:0:0:0:9'), '2001:db8:1:2::/64');
  t.is(sourceKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.is(sourceKey('::1'), '0:0:0:0::/64');
  t.is(sourceKey('::ffff:0:192.0.2.1'), '0:0:0:0::/64');
  t.is(sourceKey('fe80::'), 'fe80:0:0:0::/64');
  t.not(sourceKey('2001:db8:1:3::1'), sourceKey('2001:db8:1:2::1'));
  // Addresses anywhere in one /64 share the per-source cap.
  const refused = { per_source: 0, total: 0 };
  const l = new ConnectionLimits({ maxConnections: 100, maxConnectionsPerSource: 2 }, refused);
  t.true(l.admit('2001:db8:1:2::a'));
  t.true(l.admit('2001:db8:1:2:ffff::b'));
  t.false(l.admit('2001:db8:1:2:1:2:3:4'));
  t.true(l.admit('2001:db8:1:3::a'), 'the next /64 is another source');
  l.release('2001:db8:1:2::a');
  t.true(l.admit('2001:db8:1:2::c'));
  t.is(refused.per_source, 1);
});

test('limits: one refusal line per source per interval, with the count since the last line', (t) => {
  const { log, lines } = logSink();
  let now = 0;
  const l = new ConnectionLimits({ maxConnections: 10, maxConnectionsPerSource: 1, log, logIntervalMs: 1000, now: () => now }, {
    per_source: 0,
    total: 0,
  });
  l.admit('10.0.0.1');
  for (let i = 0; i < 50; i++) l.admit('10.0.0.1');
  l.admit('10.0.0.2');
  l.admit('10.0.0.2');
  t.is(lines.length, 2, 'one line for 50 refusals of 10.0.0.1, one for 10.0.0.2');
  now = 500;
  l.admit('10.0.0.1');
  t.is(lines.length, 2, 'still within the interval');
  now = 1000;
  l.admit('10.0.0.1');
  t.is(lines.length, 3);
  t.like(lines[0], { level: 30, source: '10.0.0.1', reason: 'per_source', refused_since_last_line: 1 });
  t.like(lines[1], { source: '10.0.0.2', refused_since_last_line: 1 });
  t.like(lines[2], { source: '10.0.0.1', refused_since_last_line: 51 }, '49 suppressed + one at 500 ms + this one');
});

test('tcp: connections over the per-source cap are closed at once, others still admitted, existing ones kept', async (t) => {
  const { log, lines } = logSink();
  const { layer, next } = await startLayer(t, [{ id: 'tcp', transport: 'tcp', address: '127.0.0.1', port: 0 }], {
    maxConnections: 5,
    maxConnectionsPerSource: 2,
    log,
  });
  const port = portOf(layer, 'tcp');
  const kept: net.Socket[] = [];
  t.teardown(() => kept.forEach((s) => s.destroy()));
  for (let i = 0; i < 2; i++) {
    const r = await staysOpen(port, '127.0.0.2');
    t.true(r.open);
    kept.push(r.socket);
  }
  const over = await staysOpen(port, '127.0.0.2');
  t.false(over.open, 'third from 127.0.0.2 refused');
  for (let i = 0; i < 3; i++) {
    const r = await staysOpen(port, '127.0.0.3');
    kept.push(r.socket);
    t.is(r.open, i < 2, `127.0.0.3 #${i + 1}`);
  }
  const another = await staysOpen(port, '127.0.0.4');
  kept.push(another.socket);
  t.true(another.open, 'the fifth connection fits the total');
  const full = await staysOpen(port, '127.0.0.5');
  t.false(full.open, 'over the total');
  t.like(layer.stats(), { connectionsRefused: { per_source: 2, total: 1 }, connectionsAccepted: 5, inboundConnections: 5 });
  // Existing connections still work.
  kept[0]!.write(sip());
  t.is((await next()).env.remote.address, '127.0.0.2');
  t.is(lines.filter((l) => l.msg === 'stream connection refused: over the connection cap').length, 3);
  // Closing one frees its slot.
  kept[0]!.destroy();
  await waitFor(() => layer.stats().inboundConnections === 4, 'release');
  t.true((await staysOpen(port, '127.0.0.5')).open);
});

test('ws: the caps count WebSocket connections too', async (t) => {
  const { layer } = await startLayer(
    t,
    [
      { id: 'tcp', transport: 'tcp', address: '127.0.0.1', port: 0 },
      { id: 'ws', transport: 'ws', address: '127.0.0.1', port: 0 },
    ],
    { maxConnections: 10, maxConnectionsPerSource: 1 },
  );
  const first = await staysOpen(portOf(layer, 'tcp'), '127.0.0.2');
  t.teardown(() => first.socket.destroy());
  t.true(first.open);
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(layer, 'ws')}`, 'sip', { localAddress: '127.0.0.2' });
  t.teardown(() => ws.terminate());
  const outcome = await withTimeout(
    new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', () => resolve('refused'));
    }),
    3000,
    'ws outcome',
  );
  t.is(outcome, 'refused');
  t.is(layer.stats().connectionsRefused.per_source, 1);
});
