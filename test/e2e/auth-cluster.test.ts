// A digest retry that lands on another node than its challenge, in both ownership modes: in
// `hash` the gate takes it to the Call-ID's owner, in `receiver` to the node that issued its nonce
// (src/auth/module.ts issuerOf, the gate's owner hint). Either way the issuer accepts it, once.

import test from 'ava';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/log.js';
import { Node } from '../../src/node/node.js';
import { allUp, clusterSection, freePort, waitFor } from './harness.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

for (const mode of ['hash', 'receiver'] as const) {
  test(`${mode}: a REGISTER challenged by one node and retried through each other node is accepted`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'anysip-auth-cluster-'));
    const subscribers = join(dir, 'subscribers.yaml');
    writeFileSync(subscribers, 'subscribers:\n  - { user: alice, realm: example.com, password: wonderland }\n');
    const ports = await Promise.all([1, 2, 3].map(async () => ({ sip: await freePort(), bus: await freePort() })));
    const nodes: Node[] = [];
    t.teardown(async () => {
      for (const n of nodes) await n.stop();
    });
    for (const [i, p] of ports.entries()) {
      const yaml = `node: { id: ${i + 1}, name: ac-${i + 1} }
listen: [{ id: sip, transport: udp, address: 127.0.0.1, port: ${p.sip} }]
proxy: { domains: [example.com] }
auth: { subscribers: ${subscribers} }
anycast: { mode: ${mode} }
admin: { enabled: false }
log: { level: fatal }
${clusterSection(i + 1, ports.map((q) => ({ address: '127.0.0.1', bus: q.bus })), 'auth-cluster-e2e-secret-0123')}`;
      const node = new Node(parseConfig(yaml, `ac-${i + 1}.yaml`), { log: silentLogger() });
      await node.start();
      nodes.push(node);
    }
    await waitFor(() => allUp(nodes, 3), 5000, 'three nodes up');
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    t.teardown(() => socket.close());
    const me = socket.address().port;
    let seq = 0;
    const send = (to: number, callId: string, cseq: number, auth = '') =>
      new Promise<string>((resolve, reject) => {
        const branch = `z9hG4bK-ac-${++seq}`;
        const timer = setTimeout(() => reject(new Error(`no answer to ${branch}`)), 3000);
        const onMessage = (b: Buffer) => {
          const m = b.toString('latin1');
          if (!m.includes(branch) || !/^SIP\/2\.0 [2-6]/.test(m)) return;
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve(m);
        };
        socket.on('message', onMessage);
        const text =
          `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me};branch=${branch}\r\nMax-Forwards: 70\r\n` +
          `From: <sip:alice@example.com>;tag=a${seq}\r\nTo: <sip:alice@example.com>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\n` +
          `Contact: <sip:alice@127.0.0.1:${me}>\r\n${auth}Content-Length: 0\r\n\r\n`;
        socket.send(Buffer.from(text, 'latin1'), to, '127.0.0.1');
      });
    for (const [challenger, retrier] of [
      [0, 1],
      [1, 2],
      [2, 0],
    ] as const) {
      const callId = `ac-${mode}-${challenger}`;
      const challenge = await send(ports[challenger]!.sip, callId, 1);
      t.regex(challenge, /^SIP\/2\.0 401/);
      const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
      const response = md5(`${md5('alice:example.com:wonderland')}:${nonce}:00000001:cn:auth:${md5('REGISTER:sip:example.com')}`);
      const auth = `Authorization: Digest username="alice", realm="example.com", nonce="${nonce}", uri="sip:example.com", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="cn"\r\n`;
      const answer = await send(ports[retrier]!.sip, callId, 2, auth);
      t.regex(answer, /^SIP\/2\.0 200/, `challenged through node ${challenger + 1}, retried through node ${retrier + 1}:\n${answer.split('\r\n')[0]}`);
    }
    const sum = (k: string) => nodes.reduce((s, n) => s + (n.auth!.figures()[k] ?? 0), 0);
    t.is(sum('auth_ok'), 3);
    t.is(sum('auth_stale'), 0, 'no retry reached a node that had not issued its nonce');
  });
}
