// Multi-process: real `anysip start` processes (dist/, built by `npm test`'s pretest;
// run `npm run build` first when running this file alone), one per 127.0.0.x address.
// Convergence, SIGKILL detection, rejoin, attacks on the bus port during a SIPp call,
// and a node claiming an id in use.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveKey, encodeBusFrame } from '../../src/bin-proto/frame.js';
import { pb } from '../../src/bin-proto/proto.js';
import { explain, freePort, requireSipp, sipp } from '../e2e/harness.js';
import { killProc, type Proc, requireDist, startProc, until } from './procs.js';

requireSipp();

const SECRET = 'multi-process-cluster-secret-42';
const N = 4;
const FAILURE_TIMEOUT = 800; // the default
const TICK = 50; // membership checks every min(50, heartbeat/4) ms
const dir = mkdtempSync(join(tmpdir(), 'anysip-cluster-'));

interface NodeSpec {
  id: number;
  address: string;
  sip: number;
  bus: number;
  admin: number;
  config: string;
}

const specs: NodeSpec[] = [];
const procs = new Map<number, Proc>();
let uasPort = 0;

function yaml(s: NodeSpec, id = s.id): string {
  return `node: { id: ${id}, name: node${s.id}, branch_secret: cluster-test-branch-secret }
listen:
  - { id: udp, transport: udp, address: ${s.address}, port: ${s.sip} }
routes:
  - match: { user_prefix: service }
    targets: ["sip:127.0.0.1:${uasPort};transport=udp"]
admin: { address: 127.0.0.1, port: ${s.admin} }
log: { level: info }
cluster:
  name: mp
  secret: ${SECRET}
  bus: { address: ${s.address}, port: ${s.bus} }
  peers:
${specs.map((p) => `    - { id: ${p.id}, address: ${p.address}, port: ${p.bus} }`).join('\n')}
`;
}

function start(s: NodeSpec, config = s.config): Proc {
  return startProc(config, dir, String(s.id));
}

const kill = killProc;

type Status = {
  node: { id: number; state: string };
  cluster: {
    view: number;
    up: number[];
    drops: Record<string, number>;
    peers: Array<{ id: number; state: string; epoch?: number; link: string; rtt_ms?: number; frames_in: number; frames_out: number }>;
  };
  counters: { sip_requests_received_total: Record<string, number> };
};

async function status(s: NodeSpec): Promise<Status | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${s.admin}/status`, { signal: AbortSignal.timeout(1000) });
    return res.ok ? ((await res.json()) as Status) : undefined;
  } catch {
    return undefined;
  }
}

const allUp = async (nodes: NodeSpec[], ids: number[]) => {
  const ss = await Promise.all(nodes.map(status));
  return ss.every((s) => s && s.node.state === 'up' && s.cluster.up.join() === ids.join()) ? ss : undefined;
};

function logs(): string {
  return [...procs.entries()].map(([id, p]) => `--- node ${id}\n${p.out.split('\n').filter((l) => !l.includes('"level":30')).slice(-15).join('\n')}`).join('\n');
}

test.before(async () => {
  requireDist();
  uasPort = await freePort();
  for (let id = 1; id <= N; id++) {
    specs.push({ id, address: `127.0.0.${id}`, sip: await freePort(), bus: await freePort(), admin: await freePort(), config: join(dir, `node${id}.yaml`) });
  }
  for (const s of specs) writeFileSync(s.config, yaml(s));
});

test.after.always(async () => {
  for (const p of procs.values()) kill(p);
  await Promise.all([...procs.values()].map((p) => p.exit));
});

test.serial(`${N} processes converge within 2 s of the last one listening`, async (t) => {
  for (const s of specs) procs.set(s.id, start(s));
  // "Listening" = its admin endpoint answers (the bus listener is bound before it).
  await until('every node started', 15_000, async () => (await Promise.all(specs.map(status))).every(Boolean)).catch((e) => {
    throw new Error(`${(e as Error).message}\n${logs()}`);
  });
  const t0 = Date.now();
  const ids = specs.map((s) => s.id);
  // Converged = every node sees every node up, over a direct link each (a duplicate link closed by
  // the one-link-per-pair rule may be down for a moment while membership is already up).
  const linked = async () => {
    const ss = await allUp(specs, ids);
    return ss?.every((s) => s!.cluster.peers.every((p) => p.state === 'up' && p.link === 'up')) ? ss : undefined;
  };
  const ss = await until('convergence', 2000, linked).catch((e) => {
    throw new Error(`${(e as Error).message}\n${logs()}`);
  });
  t.log(`converged ${Date.now() - t0} ms after the last node answered`);
  for (const s of ss) {
    t.is(s!.cluster.peers.length, N - 1);
    t.true(s!.cluster.peers.every((p) => p.state === 'up' && p.link === 'up'));
  }
});

test.serial('bad frames on the bus port (wrong key, replayed, truncated, random) are dropped and counted while a call and membership carry on', async (t) => {
  const target = specs[0]!;
  const before = (await status(target))!;
  const epoch2 = before.cluster.peers.find((p) => p.id === 2)!.epoch!;
  const uacPort = await freePort();
  const callee = sipp({ scenario: 'uas-answer.xml', localPort: uasPort, calls: 3 });
  await new Promise((r) => setTimeout(r, 300));
  const caller = sipp({ scenario: 'uac-call.xml', remote: `${target.address}:${target.sip}`, localPort: uacPort, calls: 3, rate: 5, service: 'service' });

  const key = deriveKey(SECRET);
  const attack = async (bytes: Buffer[], end = true) => {
    const sock = net.connect({ host: target.address, port: target.bus });
    sock.on('error', () => {});
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    for (const b of bytes) sock.write(b);
    if (end) sock.end();
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
  };
  const hello = (epoch: number) => pb.Hello.encode({ nodeId: 2, name: 'node2', epoch, cluster: 'mp' }).finish();
  // A recorded session replayed: the test joins as node 5 with the cluster key (genuine frames),
  // then replays a frame on its live link and the whole byte stream on a new connection.
  const e5 = Date.now() * 1000;
  const session = [
    encodeBusFrame(key, { capability: 'membership', type: 1, src: 5, dst: 1, seq: 1, epoch: e5, hops: 0, payload: pb.Hello.encode({ nodeId: 5, name: 'recorder', epoch: e5, cluster: 'mp' }).finish() }),
    encodeBusFrame(key, { capability: 'dialog', type: 1, src: 5, dst: 1, seq: 2, epoch: e5, hops: 0, payload: Buffer.from('recorded') }),
  ];
  const live = net.connect({ host: target.address, port: target.bus });
  live.on('error', () => {});
  await new Promise<void>((resolve) => live.once('connect', () => resolve()));
  live.write(Buffer.concat(session));
  await new Promise((r) => setTimeout(r, 100));
  live.write(session[1]!);
  await attack(session);
  for (let round = 0; round < 5; round++) {
    // Signed with the wrong key.
    await attack([encodeBusFrame(deriveKey('wrong-secret-wrong-secret'), { capability: 'membership', type: 1, src: 2, dst: 1, seq: 10 + round, epoch: epoch2, hops: 0, payload: hello(epoch2) })]);
    // Replay of a hello from node 2's previous boot (an older epoch than the one node 1 knows).
    await attack([encodeBusFrame(key, { capability: 'membership', type: 1, src: 2, dst: 1, seq: 1, epoch: epoch2 - 1_000_000, hops: 0, payload: hello(epoch2 - 1_000_000) })]);
    // Truncated: half a frame, then the connection ends.
    const f = encodeBusFrame(key, { capability: 'anycast', type: 1, src: 2, dst: 1, seq: 99, epoch: epoch2, hops: 0, payload: Buffer.alloc(64) });
    await attack([f.subarray(0, 40)]);
    // Plain random bytes.
    await attack([randomBytes(2048)]);
  }
  const [callerRun, after] = await Promise.all([caller.done, until('drops counted', 3000, async () => {
    const s = await status(target);
    const d = s?.cluster.drops ?? {};
    return (d.bad_mac ?? 0) >= 5 && (d.replay ?? 0) >= 7 && (d.truncated ?? 0) >= 5 && (d.oversized ?? 0) + (d.bad_mac ?? 0) >= 10 ? s : undefined;
  })]);
  live.destroy();
  const calleeRun = await Promise.race([callee.done, new Promise((r) => setTimeout(r, 5000)).then(() => undefined)]);
  callee.stop();
  t.is(callerRun.code, 0, explain(callerRun));
  t.is(calleeRun?.code, 0, calleeRun ? explain(calleeRun) : 'callee did not finish');
  t.true((after!.counters.sip_requests_received_total.INVITE ?? 0) >= 3);
  t.log(`drops at node 1: ${JSON.stringify(after!.cluster.drops)}`);
  // Membership carried on: nobody went down, the links were never replaced.
  const ss = await allUp(specs, specs.map((s) => s.id));
  t.truthy(ss, 'every node still sees every node up');
  t.true(after!.cluster.peers.filter((p) => p.id <= N).every((p) => p.link === 'up'));
  t.is(after!.cluster.view, before.cluster.view, 'no membership change at node 1');
});

test.serial('a node killed with SIGKILL is marked down by every peer within the detection time; restarted, it rejoins', async (t) => {
  const victim = specs[N - 1]!;
  const others = specs.slice(0, -1);
  const killedAt = Date.now();
  kill(procs.get(victim.id), 'SIGKILL');
  const seen = new Map<number, number>();
  await until('every peer marks it down', 3000, async () => {
    const ss = await Promise.all(others.map(status));
    ss.forEach((s, i) => {
      if (s && s.cluster.peers.find((p) => p.id === victim.id)?.state === 'down' && !seen.has(others[i]!.id)) seen.set(others[i]!.id, Date.now() - killedAt);
    });
    return seen.size === others.length;
  });
  t.log(`down after (ms, by observer): ${JSON.stringify(Object.fromEntries(seen))}`);
  // Detection time = failure_timeout + one check tick; the 100 ms is this test's status polling.
  for (const [id, ms] of seen) t.true(ms <= FAILURE_TIMEOUT + TICK + 100, `node ${id} took ${ms} ms`);
  const ss = await Promise.all(others.map(status));
  t.true(ss.every((s) => s!.cluster.up.join() === others.map((o) => o.id).join()), JSON.stringify(ss.map((s) => s!.cluster.peers.map((p) => [p.id, p.state, p.link]))));

  procs.set(victim.id, start(victim));
  const t0 = Date.now();
  await until('rejoin', 10_000, () => allUp(specs, specs.map((s) => s.id))).catch(async (err: Error) => {
    const v = (await status(victim)) as (Status & { location?: unknown }) | undefined;
    throw new Error(`${err.message}; node ${victim.id}: ${JSON.stringify({ node: v?.node, location: v?.location })}\n${logs()}`);
  });
  t.log(`rejoined ${Date.now() - t0} ms after restart (process start included)`);
  const back = (await status(specs[0]!))!.cluster.peers.find((p) => p.id === victim.id)!;
  t.is(back.link, 'up');
});

test.serial('a second node claiming an id in use is refused loudly and exits non-zero; the cluster keeps the old one', async (t) => {
  const holder = specs[1]!;
  const epochBefore = (await status(specs[0]!))!.cluster.peers.find((p) => p.id === holder.id)!.epoch;
  const impostor: NodeSpec = { id: 5, address: '127.0.0.5', sip: await freePort(), bus: await freePort(), admin: await freePort(), config: join(dir, 'impostor.yaml') };
  writeFileSync(impostor.config, yaml(impostor, holder.id)); // node.id 2, its own addresses
  const p = start(impostor);
  procs.set(99, p);
  const code = await Promise.race([p.exit, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
  t.is(code, 3, p.out.slice(-2000));
  t.regex(p.out, /node id 2 is already in use by node2/);
  const ss = await allUp(specs, specs.map((s) => s.id));
  t.truthy(ss, `the cluster is unchanged: ${JSON.stringify((await Promise.all(specs.map(status))).map((s) => s?.cluster.peers.map((p) => [p.id, p.state, p.link])))}`);
  t.is((await status(specs[0]!))!.cluster.peers.find((x) => x.id === holder.id)!.epoch, epochBefore, 'node 2 is still the old process');
  const conflicts = (await Promise.all(specs.map(status))).reduce((n, x) => n + (x!.cluster.drops.id_conflict ?? 0), 0);
  t.true(conflicts >= 1, 'the refusal is counted where it happened');
});
