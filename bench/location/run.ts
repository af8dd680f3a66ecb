// The location table's figures (issue 12):
//   1. heap per binding with 1,000,000 bindings held (target: 1,000,000 in at most 1 GB);
//   2. a joining node takes 100,000 bindings from a peer over the real bus on loopback (target: 2 s),
//      and how long until it is `up`.
// Run: node --expose-gc --max-old-space-size=4096 --import tsx bench/location/run.ts [--bindings N] [--sync N]
// Writes nothing: paste the lines it prints into bench/location/RESULTS.md with the command.

import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/log.js';
import type { Binding } from '../../src/location/binding.js';
import { LocationService } from '../../src/location/location.js';
import { Node } from '../../src/node/node.js';
import { systemClock } from '../../src/core/clock.js';
import { createServer } from 'node:net';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** A binding the size real phones make: Contact with params, a UUID Call-ID, a User-Agent. */
function binding(i: number, now: number): Binding {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return {
    aor: `sip:user${i}@example.com`,
    contact: `sip:user${i}@${ip}:5060;transport=udp;rinstance=${(i * 2654435761 >>> 0).toString(16)}`,
    q: 1,
    qText: '',
    expiresAt: now + 3_600_000,
    callId: `${(i * 40503 >>> 0).toString(16)}-a7c1-4f7e-9d2b-${String(i).padStart(12, '0')}`,
    cseq: 1 + (i % 100),
    path: [],
    source: { transport: 'udp', address: ip, port: 5060, socketId: 'sip', node: 0 },
    userAgent: 'Yealink SIP-T46S 66.86.0.15',
  };
}

async function memory(n: number): Promise<void> {
  gc!();
  const before = process.memoryUsage().heapUsed;
  const location = new LocationService({ max_expires: 7200, max_clock_skew: 2000 }, 1, systemClock);
  const now = Date.now();
  for (let i = 0; i < n; i++) location.put(binding(i, now));
  location.table.takeOutbox(); // no replicator here: the outbox would otherwise hold every write
  gc!();
  const after = process.memoryUsage().heapUsed;
  const per = (after - before) / n;
  console.log(`memory: ${n} bindings, heap ${((after - before) / 2 ** 20).toFixed(0)} MiB, ${per.toFixed(0)} B per binding -> 1,000,000 bindings: ${((per * 1e6) / 2 ** 30).toFixed(2)} GiB (target <= 1 GiB)`);
  if (location.size !== n) throw new Error(`held ${location.size} of ${n}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function sync(n: number): Promise<void> {
  const bus = [await freePort(), await freePort()];
  const sip = [await freePort(), await freePort()];
  const yaml = (id: number) => `node: { id: ${id} }
listen: [{ transport: udp, address: 127.0.0.1, port: ${sip[id - 1]} }]
admin: { enabled: false }
log: { level: fatal }
cluster:
  secret: bench-location-secret
  bus: { address: 127.0.0.1, port: ${bus[id - 1]} }
  peers: [{ id: 1, address: 127.0.0.1, port: ${bus[0]} }, { id: 2, address: 127.0.0.1, port: ${bus[1]} }]
`;
  const donor = new Node(parseConfig(yaml(1), 'donor.yaml'), { log: silentLogger() });
  await donor.start();
  const now = Date.now();
  for (let i = 0; i < n; i++) donor.location!.put(binding(i, now));
  await new Promise((r) => setTimeout(r, 1500)); // the donor is up alone, its deltas went nowhere
  const joiner = new Node(parseConfig(yaml(2), 'joiner.yaml'), { log: silentLogger() });
  const started = performance.now();
  await joiner.start();
  while (joiner.cluster!.membership.ownState !== 'up') await new Promise((r) => setTimeout(r, 5));
  const upAfter = performance.now() - started;
  const s = joiner.locationReplica!.sync;
  console.log(
    `sync: ${s.received} of ${n} bindings from node ${s.donor} in ${s.duration_ms} ms (${s.chunks} chunks, target <= 2000 ms); joiner up ${upAfter.toFixed(0)} ms after start; holds ${joiner.location!.size}`,
  );
  if (joiner.location!.size !== n) throw new Error(`the joiner holds ${joiner.location!.size} of ${n}`);
  await joiner.stop();
  await donor.stop();
}

await memory(arg('bindings', 1_000_000));
gc();
await sync(arg('sync', 100_000));
