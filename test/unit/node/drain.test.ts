// Drain and undrain: the state machine (src/node/drain.ts) on a virtual clock, the shell
// runner, and the whole path through a real node: POST /drain, /status, `anysip drain --wait`,
// `anysip undrain` (single node on loopback; the lab test covers a cluster under load).

import test from 'ava';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/core/log.js';
import { Drain, runShell, type CommandRunner, type DrainState } from '../../../src/node/drain.js';
import { Node } from '../../../src/node/node.js';
import { runDrain, EXIT_TIMEOUT } from '../../../src/cli/drain.js';
import { formatStatus } from '../../../src/cli/status.js';

function rig(opts: { grace?: number; withdraw?: string; announce?: string; cluster?: boolean; run?: CommandRunner } = {}) {
  let now = 1000;
  const held = { server: 0, client: 0 };
  const states: string[] = [];
  let own: DrainState = 'up';
  const membership = opts.cluster
    ? {
        get ownState() {
          return own;
        },
        setState(s: 'up' | 'draining' | 'drained') {
          own = s;
          states.push(s);
        },
      }
    : undefined;
  const ran: string[] = [];
  const d = new Drain({
    settings: { grace: opts.grace ?? 2000, command_timeout: 1000, ...(opts.withdraw ? { withdraw_command: opts.withdraw } : {}), ...(opts.announce ? { announce_command: opts.announce } : {}) },
    membership,
    held: () => held,
    clock: { now: () => now },
    log: silentLogger(),
    realTimers: false,
    run:
      opts.run ??
      (async (command) => {
        ran.push(command);
        return { command, exit: 0, ok: true, ms: 1, output: '' };
      }),
  });
  return { d, held, states, ran, advance: (ms: number) => (now += ms) };
}

test('drain: draining at once, drained only after grace with nothing held', async (t) => {
  const r = rig({ cluster: true, withdraw: 'withdraw-it', announce: 'announce-it' });
  r.held.server = 2;
  r.held.client = 1;
  const s = await r.d.drain();
  t.is(s.state, 'draining');
  t.deepEqual(r.states, ['draining'], 'the membership is told first');
  t.deepEqual(r.ran, ['withdraw-it']);
  t.deepEqual(s.left, { server_transactions: 2, client_transactions: 1 });
  t.true(s.withdraw?.ok);
  r.advance(5000);
  r.d.check();
  t.is(r.d.state, 'draining', 'transactions still held: not drained, whatever the time');
  r.held.server = 0;
  r.held.client = 0;
  r.d.check();
  t.is(r.d.state, 'draining', 'nothing held, but not for grace yet');
  r.advance(1999);
  r.d.check();
  t.is(r.d.state, 'draining');
  r.advance(1);
  r.d.check();
  t.is(r.d.state, 'drained');
  t.deepEqual(r.states, ['draining', 'drained']);
  t.truthy(r.d.status().drained_at);
  // idempotent
  t.is((await r.d.drain()).state, 'drained');
  t.deepEqual(r.ran, ['withdraw-it'], 'a second drain does not run the command again');
});

test('drain: an idle node still waits grace (late packets while the route withdrawal converges)', async (t) => {
  const r = rig({ cluster: true, grace: 500 });
  await r.d.drain();
  r.d.check();
  t.is(r.d.state, 'draining');
  r.advance(500);
  r.d.check();
  t.is(r.d.state, 'drained');
});

test('drain: a transaction arriving while drained goes back to draining', async (t) => {
  const r = rig({ cluster: true, grace: 100 });
  await r.d.drain();
  r.advance(100);
  r.d.check();
  t.is(r.d.state, 'drained');
  r.held.server = 1;
  r.d.check();
  t.is(r.d.state, 'draining');
  r.held.server = 0;
  r.advance(99);
  r.d.check();
  t.is(r.d.state, 'draining', 'grace counts from the last transaction');
  r.advance(1);
  r.d.check();
  t.is(r.d.state, 'drained');
});

test('undrain: up, then the announce command; idempotent when up', async (t) => {
  const r = rig({ cluster: true, withdraw: 'w', announce: 'a' });
  t.is((await r.d.undrain()).state, 'up');
  t.deepEqual(r.ran, [], 'undrain of an up node does nothing');
  await r.d.drain();
  const s = await r.d.undrain();
  t.is(s.state, 'up');
  t.deepEqual(r.ran, ['w', 'a']);
  t.deepEqual(r.states, ['draining', 'up']);
  t.true(s.announce?.ok);
  r.advance(10_000);
  r.d.check();
  t.is(r.d.state, 'up', 'no drained after an undrain');
});

test('drain without a cluster keeps its own state', async (t) => {
  const r = rig({ grace: 0 });
  t.is(r.d.state, 'up');
  await r.d.drain();
  t.is(r.d.state, 'drained', 'nothing held and no grace: drained at once');
  await r.d.undrain();
  t.is(r.d.state, 'up');
});

test('a failing withdraw command is reported, and the node drains anyway', async (t) => {
  const r = rig({ cluster: true, withdraw: 'nope', run: async (command) => ({ command, exit: 3, ok: false, ms: 2, output: 'boom', error: 'exit 3' }) });
  const s = await r.d.drain();
  t.is(s.state, 'draining');
  t.false(s.withdraw!.ok);
  t.is(s.withdraw!.exit, 3);
  t.is(s.withdraw!.output, 'boom');
});

test('runShell: exit code, output, timeout', async (t) => {
  const ok = await runShell('echo hello; echo err >&2', 5000);
  t.true(ok.ok);
  t.is(ok.exit, 0);
  t.regex(ok.output, /hello/);
  t.regex(ok.output, /err/);
  const bad = await runShell('exit 7', 5000);
  t.false(bad.ok);
  t.is(bad.exit, 7);
  const t0 = Date.now();
  const slow = await runShell('sleep 5', 200);
  t.false(slow.ok);
  t.is(slow.exit, null);
  t.regex(slow.error!, /timed out/);
  t.true(Date.now() - t0 < 3000, 'killed, not waited for');
});

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function node(extra = ''): Promise<{ n: Node; admin: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'anysip-drain-test-'));
  const yaml = `node: { id: 1 }
listen:
  - { transport: udp, address: 127.0.0.1, port: 0 }
admin: { address: 127.0.0.1, port: 0 }
log: { level: fatal }
drain:
  withdraw_command: "echo withdrawn > ${dir}/route"
  announce_command: "echo announced > ${dir}/route"
${extra}`;
  const n = new Node(parseConfig(yaml, 'drain-test.yaml'), { log: silentLogger() });
  await n.start();
  const a = n.adminAddress!;
  return { n, admin: `${a.address}:${a.port}`, dir };
}

test('a node: POST /drain and /undrain run the commands; /status shows the state and what is left', async (t) => {
  const { n, admin, dir } = await node('  grace: 300\n');
  t.teardown(() => n.stop());
  const res = await fetch(`http://${admin}/drain`, { method: 'POST' });
  t.is(res.status, 200);
  const body = (await res.json()) as { state: string; withdraw: { ok: boolean } };
  t.is(body.state, 'draining');
  t.true(body.withdraw.ok);
  t.is(readFileSync(join(dir, 'route'), 'utf8').trim(), 'withdrawn');
  const st = (await (await fetch(`http://${admin}/status`)).json()) as { node: { state: string }; drain: { left: unknown } };
  t.is(st.node.state, 'draining');
  t.deepEqual(st.drain.left, { server_transactions: 0, client_transactions: 0 });
  t.regex(formatStatus(st as unknown as Record<string, unknown>), /drain: draining for [\d.]+ s, left: 0 server, 0 client transactions/);
  const un = (await (await fetch(`http://${admin}/undrain`, { method: 'POST' })).json()) as { state: string };
  t.is(un.state, 'up');
  t.is(readFileSync(join(dir, 'route'), 'utf8').trim(), 'announced');
  t.is((await fetch(`http://${admin}/drain`)).status, 405, 'GET /drain is refused: actions are POST');
});

test('anysip drain --wait waits for drained; anysip undrain; exit codes', async (t) => {
  const { n, admin, dir } = await node('  grace: 400\n');
  t.teardown(() => n.stop());
  const out = new Sink();
  const err = new Sink();
  const t0 = Date.now();
  const code = await runDrain('drain', { admin, wait: true, timeout: 10, pollMs: 50 }, out, err);
  t.is(code, 0, err.text);
  t.true(Date.now() - t0 >= 380, 'waited for the grace period');
  t.regex(out.text, /drained after/);
  t.is(n.drain!.state, 'drained');
  t.true(existsSync(join(dir, 'route')));
  const out2 = new Sink();
  t.is(await runDrain('undrain', { admin, json: true }, out2, err), 0);
  t.is(JSON.parse(out2.text).state, 'up');
  t.is(n.drain!.state, 'up');
  t.is(await runDrain('drain', { admin: '127.0.0.1:1' }, new Sink(), err), 1, 'unreachable admin endpoint: exit 1');
  t.regex(err.text, /cannot drain the node at 127\.0\.0\.1:1/);
  t.is(await runDrain('drain', { admin, wait: true, timeout: 'x' }, new Sink(), new Sink()), 2, 'bad --timeout');
});

test('anysip drain --wait --timeout: non-zero exit when the node is not drained in time', async (t) => {
  const { n, admin } = await node('  grace: 60000\n');
  t.teardown(() => n.stop());
  const err = new Sink();
  const t0 = Date.now();
  const code = await runDrain('drain', { admin, wait: true, timeout: 0.5, pollMs: 50 }, new Sink(), err);
  t.is(code, EXIT_TIMEOUT);
  t.true(Date.now() - t0 < 3000);
  t.regex(err.text, /not drained after 0\.5 s: draining, left 0 server and 0 client transactions/);
});
