// `anysip ban list|add|remove`, `anysip reload` and the auth lines of `anysip status`, against a real node.

import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runBan } from '../../src/cli/ban.js';
import { runReload } from '../../src/cli/reload.js';
import { formatStatus } from '../../src/cli/status.js';
import { freePort, startNode } from './harness.js';

function capture() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  return { s, text: () => text };
}

test('ban add, list and remove through the admin endpoint; reload reads the subscriber file again, and refuses a broken one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'anysip-auth-cli-'));
  const subscribers = join(dir, 'subscribers.yaml');
  writeFileSync(subscribers, 'subscribers:\n  - { user: alice, realm: example.com, password: a }\n');
  const admin = await freePort();
  const node = await startNode(`node: { id: 1 }
listen: [{ transport: udp, address: 127.0.0.1, port: ${await freePort()} }]
auth: { subscribers: ${subscribers} }
admin: { address: 127.0.0.1, port: ${admin} }
log: { level: fatal }
`);
  t.teardown(() => node.stop());
  const opts = { admin: `127.0.0.1:${admin}` };
  const run = async (fn: (out: PassThrough, err: PassThrough) => Promise<number>) => {
    const out = capture();
    const err = capture();
    return { code: await fn(out.s, err.s), out: out.text(), err: err.text() };
  };

  t.like(await run((o, e) => runBan('list', undefined, opts, o, e)), { code: 0, out: 'no bans\n' });
  const added = await run((o, e) => runBan('add', '198.51.100.9', { ...opts, seconds: '600', reason: 'scanner' }, o, e));
  t.is(added.code, 0, added.err);
  t.regex(added.out, /^198\.51\.100\.9 {2}until \S+ {2}manual: scanner {2}\(by node 1\)$/m);
  t.true(node.auth!.guard.isBanned('198.51.100.9'));
  const bad = await run((o, e) => runBan('add', 'not-an-ip', opts, o, e));
  t.is(bad.code, 1);
  t.regex(bad.err, /source must be an IP address/);
  const shown = formatStatus(node.status());
  t.regex(shown, /^ {2}auth: 1 subscribers; 0 ok, 0 failed, 0 replays; 0 relays refused; 1 sources banned \(0 drops\), 0 users locked out$/m, shown);
  t.regex(shown, /^ {4}banned 198\.51\.100\.9 until \S+: manual: scanner$/m);
  t.like(await run((o, e) => runBan('remove', '198.51.100.9', opts, o, e)), { code: 0, out: 'no bans\n' });
  t.like(await run((o, e) => runBan('remove', '198.51.100.9', opts, o, e)), { code: 3 });
  t.like(await run((o, e) => runBan('add', undefined, opts, o, e)), { code: 2 });

  writeFileSync(subscribers, 'subscribers:\n  - { user: alice, realm: example.com, password: a }\n  - { user: bob, realm: example.com, password: b }\n');
  t.like(await run((o, e) => runReload(opts, o, e)), { code: 0, out: 'reloaded: 2 subscribers\n' });
  writeFileSync(subscribers, 'subscribers: [{ user: carol }]\n');
  const refused = await run((o, e) => runReload(opts, o, e));
  t.is(refused.code, 1);
  t.regex(refused.err, /did not reload: HTTP 500: .*subscribers\.yaml: subscribers\.0/);
  t.is(node.auth!.subscribers!.size, 2, 'the old table stays');
});
