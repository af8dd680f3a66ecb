// Real attack tools (Debian's sipvicious) against the defences of src/auth:
// svwar learns nothing about which users exist, svcrack is locked out before it
// finds a password it finds without the lockout, and an svmap flood sprayed
// over three nodes bans its source on every node, though no node alone saw
// enough to ban it, while a user from another source keeps registering.

import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/log.js';
import { Node } from '../../src/node/node.js';
import { systemCommand } from '../../scripts/ensure-system-tools.mjs';
import { allUp, clusterSection, freePort, waitFor } from './harness.js';

const SV = ['svwar', 'svcrack', 'svmap'] as const;
for (const tool of SV) {
  if (!systemCommand(tool)) throw new Error(`${tool} is not installed: run \`node scripts/ensure-system-tools.mjs sipvicious\` (npm test does)`);
}

const dir = mkdtempSync(join(tmpdir(), 'anysip-sipvicious-'));
const subscribers = join(dir, 'subscribers.yaml');
writeFileSync(subscribers, 'subscribers:\n  - { user: "100", realm: example.com, password: "1050" }\n');

/** Run a sipvicious tool (our own child, stopped by its PID when it overstays); resolves with its output. */
function attack(tool: (typeof SV)[number], args: string[], ms = 60_000): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(systemCommand(tool)!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), ms);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

interface Cluster {
  nodes: Node[];
  port: number;
  addresses: string[];
  stop(): Promise<void>;
}

/** `n` nodes on 127.0.0.21.., one SIP port, in one cluster when n > 1. */
async function nodes(n: number, auth: string): Promise<Cluster> {
  const port = await freePort();
  const addresses = Array.from({ length: n }, (_, i) => `127.0.0.${21 + i}`);
  const bus = await Promise.all(addresses.map(() => freePort()));
  const list: Node[] = [];
  for (const [i, address] of addresses.entries()) {
    const cluster = n > 1 ? clusterSection(i + 1, addresses.map((a, j) => ({ address: a, bus: bus[j]! })), 'sipvicious-cluster-secret-0123') : '';
    const yaml = `node: { id: ${i + 1}, branch_secret: sipvicious-branch-secret-0123 }
listen:
  - { id: udp, transport: udp, address: ${address}, port: ${port} }
proxy: { domains: [example.com] }
auth:
  subscribers: ${subscribers}
  realm: example.com
${auth}
admin: { enabled: false }
log: { level: fatal }
${cluster}`;
    const node = new Node(parseConfig(yaml, `sv-${i + 1}.yaml`), { log: silentLogger() });
    await node.start();
    list.push(node);
  }
  if (n > 1) await waitFor(() => allUp(list, n), 5000, `${n} nodes up`);
  return { nodes: list, port, addresses, stop: async () => void (await Promise.all(list.map((x) => x.stop()))) };
}

/** User 100 registers with its password from 127.0.0.5: the legitimate user the attacks must not disturb. */
async function legitimateRegister(address: string, port: number): Promise<string> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.5', r));
  const me = socket.address().port;
  const send = (extra: string, cseq: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), 3000);
      socket.once('message', (b) => {
        clearTimeout(timer);
        resolve(b.toString('latin1'));
      });
      const text =
        `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.5:${me};branch=z9hG4bK-legit-${cseq}-${Date.now()}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:100@example.com>;tag=l1\r\nTo: <sip:100@example.com>\r\nCall-ID: legit-${me}\r\nCSeq: ${cseq} REGISTER\r\n` +
        `Contact: <sip:100@127.0.0.5:${me}>\r\n${extra}Content-Length: 0\r\n\r\n`;
      socket.send(Buffer.from(text, 'latin1'), port, address);
    });
  try {
    const challenge = await send('', 1);
    const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const response = md5(`${md5('100:example.com:1050')}:${nonce}:00000001:c1:auth:${md5('REGISTER:sip:example.com')}`);
    const auth = `Authorization: Digest username="100", realm="example.com", nonce="${nonce}", uri="sip:example.com", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c1"\r\n`;
    return (await send(auth, 2)).split('\r\n')[0]!;
  } finally {
    socket.close();
  }
}

const attacker = async () => ['-b', '127.0.0.1', '-P', String(await freePort())];

test.serial('svwar learns nothing: REGISTER, OPTIONS and INVITE scans find no extension, though 100 exists and is registered', async (t) => {
  const c = await nodes(1, '');
  t.teardown(() => c.stop());
  t.is(await legitimateRegister(c.addresses[0]!, c.port), 'SIP/2.0 200 OK');
  for (const method of ['REGISTER', 'OPTIONS', 'INVITE']) {
    const out = await attack('svwar', [...(await attacker()), '--force', '-e95-105', '-m', method, `udp://${c.addresses[0]}:${c.port}`]);
    t.regex(out, /found nothing/, `svwar -m ${method}:\n${out}`);
    t.notRegex(out, /\|\s*100\s*\|/, `svwar -m ${method} lists no extension 100`);
  }
});

test.serial('svcrack finds the password without a lockout, and is locked out before it can with one', async (t) => {
  const open = await nodes(1, '  failures: { limit: 1000, window: 600, ban: 900 }');
  const found = await attack('svcrack', [...(await attacker()), '-u100', '-r1000-1100', `udp://${open.addresses[0]}:${open.port}`]);
  await open.stop();
  t.regex(found, /\|\s*100\s*\|\s*1050\s*\|/, `without a lockout the attack works (the test has teeth):\n${found}`);

  const guarded = await nodes(1, '  failures: { limit: 10, window: 600, ban: 900 }');
  t.teardown(() => guarded.stop());
  const out = await attack('svcrack', [...(await attacker()), '-u100', '-r1000-1100', `udp://${guarded.addresses[0]}:${guarded.port}`]);
  t.notRegex(out, /1050/, `svcrack is locked out:\n${out}`);
  const a = guarded.nodes[0]!.auth!;
  t.like(a.guard.bans()[0], { source: '127.0.0.1', reason: 'auth_failures' });
  t.true(a.figures().auth_failed <= 12, `failures before the ban: ${a.figures().auth_failed}`);
  // The attacked user is locked out too (auth.failures), on every node, until the ban time passes.
  t.true(a.guard.isLocked('100@example.com'));
});

test.serial('an svmap flood sprayed over three nodes bans its source on every node; no node alone saw enough; a user elsewhere keeps registering', async (t) => {
  const c = await nodes(3, '  rate_limit: { requests: 20, window: 3600, ban: 300 }');
  t.teardown(() => c.stop());
  // What each node counted of the source itself (the node it reached first; not what another node relayed to it),
  // in this window and the one before: the test may cross a window boundary, and the sliding count spans both.
  // With an hour's window, a boundary inside the test weighs the window before at 0.99 or more.
  const counted = () =>
    c.nodes.map((x, i) => {
      const r = c.nodes[0]!.auth!.guard.table.get(`r\n127.0.0.1\n${i + 1}`)?.value;
      return r ? r.count + r.previous : 0;
    });
  let rounds = 0;
  while (!c.nodes.every((x) => x.auth!.guard.bans().length > 0) && rounds < 20) {
    await attack('svmap', [...(await attacker()), '-p', String(c.port), '-t', '0.01', ...c.addresses], 30_000);
    rounds++;
  }
  for (const [i, x] of c.nodes.entries()) t.like(x.auth!.guard.bans()[0], { source: '127.0.0.1', reason: 'rate' }, `banned on node ${i + 1}`);
  const perNode = counted();
  t.true(perNode.every((n) => n > 0 && n <= 20), `each node alone stayed within the limit (${perNode}): only the cluster's sum passed it`);
  const sum = perNode.reduce((s, n) => s + n, 0);
  t.true(sum > 20 && sum <= 20 + 5, `banned once the cluster's count passed 20, within the documented overshoot (${perNode})`);
  for (const address of c.addresses) t.is(await legitimateRegister(address, c.port), 'SIP/2.0 200 OK', `user 100 registers through ${address}`);
});
