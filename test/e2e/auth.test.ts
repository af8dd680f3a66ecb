// Who may use a node: digest REGISTERs and calls (MD5 and SHA-256), replays
// refused, no user enumeration, no relaying for strangers (a socket at the
// target proves nothing arrives), trusted peers, and a reload of the
// subscriber file. The digest here is computed by hand with node:crypto, as a
// second opinion on src/auth/digest.ts.

import test from 'ava';
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNode } from './harness.js';

const H = (alg: string, s: string) => createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');

function header(msg: string, name: string): string[] {
  return [...msg.matchAll(new RegExp(`^${name}:\\s*(.*)$`, 'gim'))].map((m) => m[1]!.trim());
}

interface Client {
  socket: Socket;
  port: number;
  /** Send a request and resolve with the first final response to its branch. */
  request(text: string, branch: string): Promise<string>;
  received: string[];
  close(): void;
}

async function client(nodePort: number, address = '127.0.0.1'): Promise<Client> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, address, r));
  const waiting = new Map<string, (msg: string) => void>();
  const received: string[] = [];
  socket.on('message', (buf) => {
    const msg = buf.toString('latin1');
    received.push(msg);
    const branch = /branch=([^;,\s]+)/.exec(header(msg, 'Via')[0] ?? '')?.[1];
    if (msg.startsWith('SIP/2.0 ') && Number(msg.slice(8, 11)) >= 200 && branch) waiting.get(branch)?.(msg);
  });
  return {
    socket,
    port: socket.address().port,
    received,
    request: (text, branch) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no final response to ${branch}`)), 3000);
        waiting.set(branch, (msg) => {
          clearTimeout(timer);
          resolve(msg);
        });
        socket.send(Buffer.from(text, 'latin1'), nodePort, '127.0.0.1');
      }),
    close: () => socket.close(),
  };
}

/** A UDP socket on 127.0.0.3 (127.0.0.1 is the node's own address) that only records what reaches it: the target a relay would send to. */
async function target(): Promise<{ port: number; got: string[]; close(): void }> {
  const socket = createSocket('udp4');
  const got: string[] = [];
  socket.on('message', (b) => got.push(b.toString('latin1')));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.3', r));
  return { port: socket.address().port, got, close: () => socket.close() };
}

let seq = 0;
function request(c: Client, method: string, ruri: string, o: { from?: string; to?: string; toTag?: string; callId?: string; cseq?: number; extra?: string[]; contact?: string } = {}) {
  const branch = `z9hG4bK-auth-${++seq}`;
  const from = o.from ?? 'sip:alice@example.com';
  const text =
    `${method} ${ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${c.port};branch=${branch}\r\nMax-Forwards: 70\r\n` +
    `From: <${from}>;tag=f${seq}\r\nTo: <${o.to ?? from}>${o.toTag ? `;tag=${o.toTag}` : ''}\r\nCall-ID: ${o.callId ?? `auth-${seq}`}\r\nCSeq: ${o.cseq ?? 1} ${method}\r\n` +
    `Contact: <${o.contact ?? `sip:alice@127.0.0.1:${c.port}`}>\r\n${(o.extra ?? []).map((h) => `${h}\r\n`).join('')}Content-Length: 0\r\n\r\n`;
  return { text, branch };
}

/** The Authorization value answering `challenge` (a WWW/Proxy-Authenticate value) with qop=auth. */
function answer(challenge: string, o: { user: string; password: string; method: string; uri: string; nc?: number }): string {
  const param = (n: string) => new RegExp(`${n}="?([^",]+)"?`).exec(challenge)?.[1] ?? '';
  const alg = param('algorithm');
  const realm = param('realm');
  const nonce = param('nonce');
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = 'c0ffee' + seq;
  const ha1 = H(alg, `${o.user}:${realm}:${o.password}`);
  const response = H(alg, `${ha1}:${nonce}:${nc}:${cnonce}:auth:${H(alg, `${o.method}:${o.uri}`)}`);
  return `Digest username="${o.user}", realm="${realm}", nonce="${nonce}", uri="${o.uri}", response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

async function authNode(extra = '', top = '') {
  const dir = mkdtempSync(join(tmpdir(), 'anysip-auth-'));
  const subscribers = join(dir, 'subscribers.yaml');
  writeFileSync(subscribers, 'subscribers:\n  - { user: alice, realm: example.com, password: wonderland }\n');
  const port = await freePort();
  const node = await startNode(`node: { id: 1, branch_secret: auth-e2e-secret-0123456789 }
listen:
  - { id: udp, transport: udp, address: 127.0.0.1, port: ${port} }
proxy: { domains: [example.com] }
${top}
auth:
  subscribers: ${subscribers}
${extra}
admin: { enabled: false }
log: { level: fatal }
`);
  return { node, port, subscribers };
}

test('REGISTER: challenged with SHA-256 and MD5, accepted with either, a replay refused and changes nothing', async (t) => {
  const { node, port } = await authNode('  algorithms: [SHA-256, MD5]');
  const c = await client(port);
  t.teardown(async () => {
    c.close();
    await node.stop();
  });
  const first = request(c, 'REGISTER', 'sip:example.com', { callId: 'reg-1', cseq: 1 });
  const challenge = await c.request(first.text, first.branch);
  t.true(challenge.startsWith('SIP/2.0 401'));
  const offers = header(challenge, 'WWW-Authenticate');
  t.deepEqual(offers.map((o) => /algorithm=([^,\s]+)/.exec(o)?.[1]), ['SHA-256', 'MD5'], 'in the order configured, most preferred first (RFC 8760)');
  t.is(node.location!.size, 0);

  // One nonce for both offers: each use takes the next nonce-count.
  for (const [i, offer] of offers.entries()) {
    const auth = answer(offer, { user: 'alice', password: 'wonderland', method: 'REGISTER', uri: 'sip:example.com', nc: i + 1 });
    const r = request(c, 'REGISTER', 'sip:example.com', { callId: 'reg-1', cseq: 2 + i, extra: [`Authorization: ${auth}`] });
    t.true((await c.request(r.text, r.branch)).startsWith('SIP/2.0 200'), `accepted with ${/algorithm=(\S+),/.exec(offer)?.[1]}`);
  }
  t.is(node.location!.lookup('sip:alice@example.com').length, 1);

  // A replay: the same nonce and nc, now pointing the user elsewhere.
  const auth = answer(offers[1]!, { user: 'alice', password: 'wonderland', method: 'REGISTER', uri: 'sip:example.com', nc: 7 });
  const once = request(c, 'REGISTER', 'sip:example.com', { callId: 'reg-1', cseq: 10, extra: [`Authorization: ${auth}`] });
  t.true((await c.request(once.text, once.branch)).startsWith('SIP/2.0 200'));
  const replay = request(c, 'REGISTER', 'sip:example.com', { callId: 'reg-1', cseq: 11, contact: 'sip:alice@127.0.0.1:9', extra: [`Authorization: ${auth}`] });
  const refused = await c.request(replay.text, replay.branch);
  t.true(refused.startsWith('SIP/2.0 401'), 'a used nonce-count gets a fresh challenge');
  t.regex(header(refused, 'WWW-Authenticate')[0]!, /stale=true/);
  t.deepEqual(node.location!.lookup('sip:alice@example.com').map((b) => b.contact), [`sip:alice@127.0.0.1:${c.port}`], 'the replay changed nothing');
  t.like(node.auth!.figures(), { auth_replays: 1, auth_ok: 3 });
});

test('an unknown user and a wrong password get the same answer; a stranger cannot replace a binding', async (t) => {
  const { node, port } = await authNode();
  const c = await client(port);
  t.teardown(async () => {
    c.close();
    await node.stop();
  });
  const answers: string[] = [];
  for (const [user, password] of [
    ['alice', 'guess'],
    ['mallory', 'wonderland'],
  ] as const) {
    const from = `sip:${user}@example.com`;
    const first = request(c, 'REGISTER', 'sip:example.com', { from, contact: 'sip:evil@127.0.0.1:9' });
    const offer = header(await c.request(first.text, first.branch), 'WWW-Authenticate')[0]!;
    const r = request(c, 'REGISTER', 'sip:example.com', { from, contact: 'sip:evil@127.0.0.1:9', extra: [`Authorization: ${answer(offer, { user, password, method: 'REGISTER', uri: 'sip:example.com' })}`] });
    answers.push((await c.request(r.text, r.branch)).split('\r\n')[0]!);
  }
  t.deepEqual(answers, ['SIP/2.0 403 Authentication Failed', 'SIP/2.0 403 Authentication Failed']);
  t.is(node.location!.size, 0, 'nothing was registered');
});

test('no relaying for strangers: an IP literal, a foreign domain, a pre-loaded Route, a forged in-dialog Route all get 403 and nothing reaches the target', async (t) => {
  const { node, port } = await authNode();
  const c = await client(port);
  const victim = await target();
  t.teardown(async () => {
    c.close();
    victim.close();
    await node.stop();
  });
  const stranger = { from: 'sip:scanner@attacker.example' };
  const attempts = [
    request(c, 'INVITE', `sip:100@127.0.0.3:${victim.port}`, stranger),
    request(c, 'MESSAGE', 'sip:someone@foreign.example', stranger),
    request(c, 'INVITE', 'sip:bob@example.com', { ...stranger, extra: [`Route: <sip:127.0.0.3:${victim.port};lr>`] }),
    // In-dialog look (a To tag) behind a Route of ours written by hand: no dialog tag, so not a dialog of ours.
    request(c, 'BYE', `sip:100@127.0.0.3:${victim.port}`, { ...stranger, to: 'sip:x@example.com', toTag: 'forged', extra: [`Route: <sip:127.0.0.1:${port};lr>`] }),
  ];
  for (const a of attempts) t.is((await c.request(a.text, a.branch)).split('\r\n')[0], 'SIP/2.0 403 Relaying Forbidden', a.text.split('\r\n')[0]);
  // An OPTIONS to the node itself is answered without credentials.
  const ping = request(c, 'OPTIONS', `sip:127.0.0.1:${port}`, stranger);
  t.true((await c.request(ping.text, ping.branch)).startsWith('SIP/2.0 200'));
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(victim.got, [], 'nothing reached the target');
  t.is(node.auth!.figures().relay_refused, 4);
});

test('a local user authenticates (407) and is then relayed; a trusted peer is relayed without credentials', async (t) => {
  const { node, port } = await authNode('  trusted: [127.0.0.2]');
  const c = await client(port);
  const peer = await client(port, '127.0.0.2');
  const gateway = await target();
  t.teardown(async () => {
    c.close();
    peer.close();
    gateway.close();
    await node.stop();
  });
  const ruri = `sip:+4420@127.0.0.3:${gateway.port}`;
  const first = request(c, 'INVITE', ruri, { callId: 'call-1' });
  const challenge = await c.request(first.text, first.branch);
  t.true(challenge.startsWith('SIP/2.0 407'));
  const offer = header(challenge, 'Proxy-Authenticate')[0]!;
  const retry = request(c, 'INVITE', ruri, { callId: 'call-1', cseq: 2, extra: [`Proxy-Authorization: ${answer(offer, { user: 'alice', password: 'wonderland', method: 'INVITE', uri: ruri })}`] });
  c.socket.send(Buffer.from(retry.text, 'latin1'), port, '127.0.0.1');
  const fromPeer = request(peer, 'INVITE', ruri, { from: 'sip:pstn@carrier.example', callId: 'call-2' });
  peer.socket.send(Buffer.from(fromPeer.text, 'latin1'), port, '127.0.0.1');
  const start = Date.now();
  while (gateway.got.length < 2 && Date.now() - start < 2000) await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(gateway.got.map((m) => header(m, 'Call-ID')[0]).sort(), ['call-1', 'call-2'], 'both INVITEs reached the gateway');
  t.like(node.auth!.figures(), { trusted_requests: 1, relay_refused: 0 });
});

test('reload: a new subscriber file takes effect at once; a broken one is refused and the old stays', async (t) => {
  const { node, port, subscribers } = await authNode();
  const c = await client(port);
  t.teardown(async () => {
    c.close();
    await node.stop();
  });
  const register = async (user: string, password: string) => {
    const from = `sip:${user}@example.com`;
    const first = request(c, 'REGISTER', 'sip:example.com', { from });
    const offer = header(await c.request(first.text, first.branch), 'WWW-Authenticate')[0]!;
    const r = request(c, 'REGISTER', 'sip:example.com', { from, extra: [`Authorization: ${answer(offer, { user, password, method: 'REGISTER', uri: 'sip:example.com' })}`] });
    return (await c.request(r.text, r.branch)).split(' ')[1];
  };
  t.is(await register('bob', 'builder'), '403');
  writeFileSync(subscribers, 'subscribers:\n  - { user: alice, realm: example.com, password: wonderland }\n  - { user: bob, realm: example.com, password: builder }\n');
  t.like(node.reload(), { subscribers: 2 });
  t.is(await register('bob', 'builder'), '200');
  writeFileSync(subscribers, 'subscribers:\n  - { user: carol }\n');
  t.throws(() => node.reload(), { message: /subscribers\.yaml: subscribers\.0/ });
  t.is(await register('bob', 'builder'), '200', 'the old table is still in use');
});

test('the route hook sees who authenticated: user@realm after a 407, nobody for a call from outside', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'anysip-auth-hook-'));
  const hook = join(dir, 'route.mjs');
  writeFileSync(hook, "export default (req) => ({ status: 480, reason: 'Seen ' + (req.authenticated ?? 'nobody') });\n");
  const { node, port } = await authNode('', `route_hook: ${hook}`);
  const c = await client(port);
  t.teardown(async () => {
    c.close();
    await node.stop();
  });
  const first = request(c, 'INVITE', 'sip:bob@example.com', { callId: 'hook-1', to: 'sip:bob@example.com' });
  const offer = header(await c.request(first.text, first.branch), 'Proxy-Authenticate')[0]!;
  const retry = request(c, 'INVITE', 'sip:bob@example.com', {
    callId: 'hook-1',
    cseq: 2,
    to: 'sip:bob@example.com',
    extra: [`Proxy-Authorization: ${answer(offer, { user: 'alice', password: 'wonderland', method: 'INVITE', uri: 'sip:bob@example.com' })}`],
  });
  t.is((await c.request(retry.text, retry.branch)).split('\r\n')[0], 'SIP/2.0 480 Seen alice@example.com');
  const outside = request(c, 'INVITE', 'sip:bob@example.com', { from: 'sip:carol@elsewhere.example', to: 'sip:bob@example.com' });
  t.is((await c.request(outside.text, outside.branch)).split('\r\n')[0], 'SIP/2.0 480 Seen nobody');
});
