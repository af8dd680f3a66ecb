// Real SIPp with [authentication] through a node that requires digest: a
// REGISTER answered after its 401, and a call by a local user answered after
// its 407, over UDP and TCP, with each algorithm the node can offer first.

import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explain, freePort, requireSipp, sipp, startNode } from './harness.js';

requireSipp();

async function authNode(port: number, uasPort: number, transport: 'udp' | 'tcp', algorithms: string) {
  const dir = mkdtempSync(join(tmpdir(), 'anysip-sipp-auth-'));
  const subscribers = join(dir, 'subscribers.yaml');
  writeFileSync(subscribers, 'subscribers:\n  - { user: alice, realm: example.com, password: wonderland }\n');
  return startNode(`node: { id: 7, branch_secret: e2e-secret-0123456789 }
listen:
  - { id: udp, transport: udp, address: 127.0.0.1, port: ${port} }
  - { id: tcp, transport: tcp, address: 127.0.0.1, port: ${port} }
proxy: { domains: [example.com] }
routes:
  - match: { user_prefix: service }
    targets: ["sip:127.0.0.1:${uasPort};transport=${transport}"]
auth:
  subscribers: ${subscribers}
  algorithms: ${algorithms}
admin: { enabled: false }
log: { level: error }
`);
}

for (const [label, transport] of [
  ['UDP', 'u1'],
  ['TCP', 't1'],
] as const) {
  // SIPp 3.6 answers the first challenge and knows only MD5 ("authentication must use MD5"), so
  // SHA-256 is tested with a hand-made client in auth.test.ts.
  for (const algorithms of ['[MD5]', '[MD5, SHA-256]']) {
    test(`${label}, offering ${algorithms}: SIPp registers and calls with digest`, async (t) => {
      const port = await freePort();
      const uasPort = await freePort();
      const node = await authNode(port, uasPort, transport === 't1' ? 'tcp' : 'udp', algorithms);
      t.teardown(() => node.stop());
      const auth = { user: 'alice', password: 'wonderland' };
      const reg = await sipp({ scenario: 'uac-auth-register.xml', remote: `127.0.0.1:${port}`, localPort: await freePort(), transport, service: 'alice', auth, calls: 3 }).done;
      t.is(reg.code, 0, explain(reg));
      t.is(node.location!.lookup('sip:alice@example.com').length, 1);
      const callee = sipp({ scenario: 'uas-answer.xml', localPort: uasPort, transport, calls: 3 });
      t.teardown(() => callee.stop());
      await new Promise((r) => setTimeout(r, 300));
      const caller = await sipp({ scenario: 'uac-auth-call.xml', remote: `127.0.0.1:${port}`, localPort: await freePort(), transport, service: 'service', auth, calls: 3 }).done;
      t.is(caller.code, 0, explain(caller));
      t.is((await callee.done).code, 0, explain(await callee.done));
      t.like(node.auth!.figures(), { auth_ok: 6, auth_failed: 0, auth_replays: 0 });
    });
  }
}
