// Replay protection across real `anysip start` processes: a REGISTER
// authenticated through one node, replayed (same nonce and nonce-count) to
// another node, with the same Call-ID (the gate takes it to the node that
// issued the nonce) and with a new one (it lands on a node that never saw the
// nonce): both refused, and no node's binding changes.

import test from 'ava';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../e2e/harness.js';
import { killProc, type Proc, requireDist, startProc, until } from './procs.js';

const dir = mkdtempSync(join(tmpdir(), 'anysip-auth-cluster-'));
const N = 3;
const procs: Proc[] = [];
const nodes: Array<{ id: number; address: string; sip: number; bus: number; admin: number }> = [];

test.before(async () => {
  requireDist();
  const subscribers = join(dir, 'subscribers.yaml');
  writeFileSync(subscribers, 'subscribers:\n  - { user: alice, realm: example.com, password: wonderland }\n');
  for (let id = 1; id <= N; id++) nodes.push({ id, address: `127.0.0.${20 + id}`, sip: await freePort(), bus: await freePort(), admin: await freePort() });
  for (const n of nodes) {
    const config = join(dir, `node${n.id}.yaml`);
    writeFileSync(
      config,
      `node: { id: ${n.id}, name: auth${n.id} }
listen:
  - { id: udp, transport: udp, address: ${n.address}, port: ${n.sip} }
proxy: { domains: [example.com] }
auth: { subscribers: ${subscribers} }
admin: { address: 127.0.0.1, port: ${n.admin} }
log: { level: warn }
cluster:
  secret: auth-cluster-secret-0123456789
  bus: { address: ${n.address}, port: ${n.bus} }
  peers: [${nodes.map((p) => `{ id: ${p.id}, address: ${p.address}, port: ${p.bus} }`).join(', ')}]
`,
    );
    procs.push(startProc(config, dir, `auth${n.id}`));
  }
  await until('three nodes up', 15_000, async () => {
    const states = await Promise.all(nodes.map((n) => status(n.admin)));
    return states.every((s) => s?.node.state === 'up' && (s.cluster as { up: number[] }).up.length === N);
  }).catch((e) => {
    throw new Error(`${(e as Error).message}\n${procs.map((p) => p.out.slice(-2000)).join('\n---\n')}`);
  });
});

test.after.always(async () => {
  for (const p of procs) killProc(p);
  await Promise.all(procs.map((p) => p.exit));
});

async function status(admin: number): Promise<{ node: { state: string }; cluster: unknown; auth: Record<string, number> } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${admin}/status`, { signal: AbortSignal.timeout(1000) });
    return res.ok ? ((await res.json()) as never) : undefined;
  } catch {
    return undefined;
  }
}

async function contacts(admin: number): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${admin}/location?aor=sip:alice@example.com`);
  if (res.status === 404) return [];
  return ((await res.json()) as { bindings: Array<{ contact: string }> }).bindings.map((b) => b.contact);
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

test('a REGISTER replayed to another node, with its Call-ID or a new one, is refused and changes nothing anywhere', async (t) => {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  t.teardown(() => socket.close());
  const port = socket.address().port;
  const finals = new Map<string, (m: string) => void>();
  socket.on('message', (b) => {
    const m = b.toString('latin1');
    const branch = /branch=([^;\s]+)/.exec(m)?.[1];
    if (/^SIP\/2\.0 [2-6]/.test(m) && branch) finals.get(branch)?.(m);
  });
  let n = 0;
  const register = (node: (typeof nodes)[number], o: { callId: string; cseq: number; contact: string; auth?: string }) => {
    const branch = `z9hG4bK-replay-${++n}`;
    const text =
      `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:alice@example.com>;tag=r${n}\r\nTo: <sip:alice@example.com>\r\nCall-ID: ${o.callId}\r\nCSeq: ${o.cseq} REGISTER\r\n` +
      `Contact: <${o.contact}>\r\n${o.auth ? `Authorization: ${o.auth}\r\n` : ''}Expires: 300\r\nContent-Length: 0\r\n\r\n`;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${branch}`)), 3000);
      finals.set(branch, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      socket.send(Buffer.from(text, 'latin1'), node.sip, node.address);
    });
  };
  const mine = `sip:alice@127.0.0.1:${port}`;
  const challenge = await register(nodes[0]!, { callId: 'replay-1', cseq: 1, contact: mine });
  t.regex(challenge, /^SIP\/2\.0 401/);
  const offer = /^WWW-Authenticate: (.*)$/m.exec(challenge)![1]!;
  const realm = /realm="([^"]+)"/.exec(offer)![1]!;
  const nonce = /nonce="([^"]+)"/.exec(offer)![1]!;
  const ha1 = md5(`alice:${realm}:wonderland`);
  const response = md5(`${ha1}:${nonce}:00000001:abc:auth:${md5('REGISTER:sip:example.com')}`);
  const auth = `Digest username="alice", realm="${realm}", nonce="${nonce}", uri="sip:example.com", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="abc"`;
  t.regex(await register(nodes[0]!, { callId: 'replay-1', cseq: 2, contact: mine, auth }), /^SIP\/2\.0 200/);
  await until('the binding on every node', 3000, async () => (await Promise.all(nodes.map((x) => contacts(x.admin)))).every((c) => c.join() === mine));

  const evil = 'sip:alice@127.0.0.1:9';
  t.regex(await register(nodes[1]!, { callId: 'replay-1', cseq: 3, contact: evil, auth }), /^SIP\/2\.0 401/, 'same Call-ID, through node 2');
  for (const [i, node] of nodes.entries()) {
    t.regex(await register(node, { callId: `replay-elsewhere-${i}`, cseq: 1, contact: evil, auth }), /^SIP\/2\.0 401/, `a new Call-ID, through node ${node.id}`);
  }
  await new Promise((r) => setTimeout(r, 200));
  t.deepEqual(await Promise.all(nodes.map((x) => contacts(x.admin))), [[mine], [mine], [mine]], 'no node took the replay');
  const counts = await Promise.all(nodes.map(async (x) => (await status(x.admin))!.auth));
  t.is(counts.reduce((s, c) => s + c.auth_ok, 0), 1, 'one accepted REGISTER in the whole cluster');
  t.is(counts.reduce((s, c) => s + c.auth_replays + c.auth_stale, 0), 4, 'every replay was refused as a replay or as another node\'s nonce');
});
