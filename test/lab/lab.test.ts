// The lab end to end: real FRR OSPF ECMP in network namespaces, real anysip nodes (dist/),
// real SIPp, driven through the same zx commands a user types (lab/up.mjs, run.mjs, replay.mjs,
// down.mjs). Needs root; without root, or without the tools, these tests FAIL, loudly, never skip.
// One file, serial tests: there is one lab per machine (fixed anysip-lab-* namespace names).

import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN, labNamespaces, nexthops, readReport, sh, tail, useLab, zx, ROOT } from './helpers.js';

const ANYCAST = '192.0.2.10/32';
const ROUTER = 'anysip-lab-router';
const NODES = 3;
const out = mkdtempSync(join(tmpdir(), 'anysip-lab-test-'));

// Per-packet with zero failed calls is what the anycast layer (src/anycast) is for: a CANCEL or an
// ACK sprayed to a node that does not hold the INVITE must still reach it.

if (useLab('test/lab/lab.test.ts')) {
  registerTests();
}

async function up(mode: string, t: { log: (...a: unknown[]) => void; is: (a: unknown, b: unknown, m?: string) => void }) {
  const r = await zx('up.mjs', ['--mode', mode, '--nodes', String(NODES)]);
  t.log(`up --mode ${mode}: ${r.ms} ms`);
  t.is(r.code, 0, `lab/up.mjs --mode ${mode} failed:\n${tail(r.out)}`);
  return r;
}

async function calls(scenario: string, n: number, rate: number, name: string) {
  const json = join(out, `${name}.json`);
  const r = await zx('run.mjs', ['--scenario', scenario, '--calls', String(n), '--rate', String(rate), '--json', json]);
  return { r, json, report: existsSync(json) ? readReport(json) : undefined };
}

function assertSpread(t: import('ava').ExecutionContext, rep: NonNullable<ReturnType<typeof readReport>>, what: string) {
  for (const [name, node] of Object.entries(rep.nodes)) {
    t.true(node.total > 0, `${what}: node ${name} received no SIP packet: ${JSON.stringify(rep.nodes)}`);
    t.true((node.fromClient.INVITE ?? 0) > 0, `${what}: node ${name} received no INVITE from the client side`);
  }
}

/**
 * Per-packet spraying lands about (N-1)/N of the client's requests (INVITE, ACK, BYE: 3 a call) on a
 * node that does not own the call, so the cluster must have forwarded them over the bus: a run that
 * succeeds without forwarding (the spray not working, or the cluster not in the path) fails here.
 * Bound: half the client requests, well below the expected two thirds.
 */
function assertForwarded(t: import('ava').ExecutionContext, rep: NonNullable<ReturnType<typeof readReport>>, calls: number, what: string) {
  let total = 0;
  for (const [name, node] of Object.entries(rep.nodes)) {
    const fwd = node.forwarded?.forward ?? 0;
    t.true(fwd > 0, `${what}: node ${name} forwarded nothing over the bus: ${JSON.stringify(node.forwarded)}`);
    total += fwd;
  }
  t.true(total >= (calls * 3) / 2, `${what}: ${total} messages forwarded for ${calls} calls (expected about ${calls * 2})`);
  t.log(`${what}: ${total} messages forwarded over the bus`);
}

function registerTests() {
  // ------------------------------------------------------------------ per-packet
  test.serial('per-packet: up builds the topology, OSPF installs 3 equal-cost routes, the spray follows them', async (t) => {
    await up('per-packet', t);
    const hops = nexthops(ROUTER, ANYCAST);
    t.is(hops.length, NODES, `ip route in ${ROUTER}: ${JSON.stringify(hops)}`);
    t.true(hops.every((h) => h.protocol === 'ospf'), 'the anycast route is installed by OSPF (zebra)');
    t.deepEqual(hops.map((h) => h.dev).sort(), ['anysip-r-n1', 'anysip-r-n2', 'anysip-r-n3']);
    for (let i = 1; i <= NODES; i++) t.is(nexthops(ROUTER, ANYCAST, String(100 + i)).length, 1, `table ${100 + i} routes to n${i}`);
    const nft = sh('ip', ['netns', 'exec', ROUTER, 'nft', 'list', 'table', 'ip', 'anysip-lab-lb']);
    t.regex(nft, /numgen random mod 3 map/, nft);
    t.regex(sh('ip', ['-n', ROUTER, 'rule']), /fwmark 0x3 lookup 103/);
  });

  test.serial('per-packet: 200 basic calls, zero failures, every node receives packets', async (t) => {
    const { r, report } = await calls('basic', 200, 50, 'per-packet-basic');
    t.truthy(report, `no report:\n${tail(r.out)}`);
    t.log(`per-packet basic: ${report!.calls.ok} ok, ${report!.calls.failed} failed, ${r.ms} ms`);
    assertSpread(t, report!, 'per-packet basic');
    assertForwarded(t, report!, 200, 'per-packet basic');
    t.is(report!.calls.failed, 0, tail(r.out));
    t.is(report!.calls.ok, 200, tail(r.out));
  });

  test.serial('per-packet: 200 CANCEL calls, zero failures, every node receives packets', async (t) => {
    const { r, report } = await calls('cancel', 200, 50, 'per-packet-cancel');
    t.truthy(report, `no report:\n${tail(r.out)}`);
    t.log(`per-packet cancel: ${report!.calls.ok} ok, ${report!.calls.failed} failed, ${r.ms} ms`);
    assertSpread(t, report!, 'per-packet cancel');
    assertForwarded(t, report!, 200, 'per-packet cancel');
    t.is(report!.calls.failed, 0, tail(r.out));
    t.is(report!.calls.ok, 200, tail(r.out));
  });

  test.serial('per-packet: when a host stops announcing, OSPF withdraws it and the spray skips it', async (t) => {
    const pidFile = join(RUN, 'pids', 'frr-anysip-lab-n3-ospfd.pid');
    t.true(existsSync(pidFile), 'ospfd of n3 has a pid file');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 'SIGTERM'); // our own process, by its pid file
    const until = Date.now() + 20_000;
    while (Date.now() < until && nexthops(ROUTER, ANYCAST).length !== NODES - 1) await new Promise((r) => setTimeout(r, 200));
    t.is(nexthops(ROUTER, ANYCAST).length, NODES - 1, 'the router lost the route via n3');
    const until2 = Date.now() + 5_000;
    while (Date.now() < until2 && nexthops(ROUTER, ANYCAST, '103').length !== 0) await new Promise((r) => setTimeout(r, 100));
    t.is(nexthops(ROUTER, ANYCAST, '103').length, 0, 'lb-sync emptied table 103');
    t.regex(sh('ip', ['netns', 'exec', ROUTER, 'nft', 'list', 'table', 'ip', 'anysip-lab-lb']), /mod 2 map \{ 0 : 0x0*1, 1 : 0x0*2 \}/);
    const { report } = await calls('basic', 30, 30, 'per-packet-withdrawn');
    t.truthy(report);
    t.is(report!.nodes.n3!.total, 0, 'n3 gets nothing once withdrawn');
    t.true(report!.nodes.n1!.total > 0 && report!.nodes.n2!.total > 0);
  });

  test.serial('down removes everything, and is idempotent', async (t) => {
    const r1 = await zx('down.mjs');
    t.is(r1.code, 0, tail(r1.out));
    const r2 = await zx('down.mjs');
    t.is(r2.code, 0, tail(r2.out));
    assertClean(t);
  });

  // ------------------------------------------------------------------ per-flow
  test.serial('per-flow: up, OSPF ECMP with 3 next hops, L4 hash, FRR configs as committed', async (t) => {
    await up('per-flow', t);
    const hops = nexthops(ROUTER, ANYCAST);
    t.is(hops.length, NODES, JSON.stringify(hops));
    t.is(sh('ip', ['netns', 'exec', ROUTER, 'sysctl', '-n', 'net.ipv4.fib_multipath_hash_policy']).trim(), '1');
    t.is(sh('ip', ['netns', 'exec', ROUTER, 'nft', 'list', 'ruleset']).trim(), '', 'no spray table in per-flow mode');
    for (const ns of readdirSync(join(ROOT, 'lab', 'quagga', 'default'))) {
      for (const f of ['zebra.conf', 'ospfd.conf']) {
        t.is(readFileSync(join(ROOT, 'lab', 'quagga', 'live', ns, f), 'utf8'), readFileSync(join(ROOT, 'lab', 'quagga', 'default', ns, f), 'utf8'), `lab/quagga/live/${ns}/${f} = the committed example`);
      }
    }
  });

  test.serial('per-flow: 200 basic calls, zero failures, every node receives packets', async (t) => {
    const { r, report } = await calls('basic', 200, 50, 'per-flow-basic');
    t.truthy(report, `no report:\n${tail(r.out)}`);
    t.log(`per-flow basic: ${report!.calls.ok} ok, ${report!.calls.failed} failed, ${r.ms} ms`);
    t.is(report!.calls.failed, 0, tail(r.out));
    t.is(report!.calls.ok, 200, tail(r.out));
    assertSpread(t, report!, 'per-flow basic');
    t.is(r.code, 0);
  });

  test.serial('per-flow: 200 CANCEL calls, zero failures, every node receives packets', async (t) => {
    const { r, report } = await calls('cancel', 200, 50, 'per-flow-cancel');
    t.truthy(report, `no report:\n${tail(r.out)}`);
    t.log(`per-flow cancel: ${report!.calls.ok} ok, ${report!.calls.failed} failed, ${r.ms} ms`);
    t.is(report!.calls.failed, 0, tail(r.out));
    t.is(report!.calls.ok, 200, tail(r.out));
    assertSpread(t, report!, 'per-flow cancel');
    t.true((report!.nodes.n1!.packets.CANCEL ?? 0) > 0);
  });

  test.serial('replay: the basic capture replayed on a fresh lab gets the same responses', async (t) => {
    const cap = join(out, 'per-flow-basic.pcapng');
    t.true(existsSync(cap), 'run.mjs --json saved the capture');
    await up('per-flow', t); // fresh nodes: the capture's transactions are new to them
    const r = await zx('replay.mjs', [cap, '--wait', '4', '--json', join(out, 'replay.json')]);
    t.log(tail(r.out, 3));
    t.is(r.code, 0, tail(r.out));
    const rep = JSON.parse(readFileSync(join(out, 'replay.json'), 'utf8')) as { responses: { expected: number; matched: number } };
    t.true(rep.responses.expected >= 600, `the capture has the responses of 200 calls (${rep.responses.expected})`);
    t.is(rep.responses.matched, rep.responses.expected);
  });

  test.serial('down again: nothing left behind', async (t) => {
    const r = await zx('down.mjs');
    t.is(r.code, 0, tail(r.out));
    assertClean(t);
  });
}

function assertClean(t: import('ava').ExecutionContext) {
  t.deepEqual(labNamespaces(), [], 'no anysip-lab-* namespace left');
  t.false(existsSync(RUN), `${RUN} removed`);
  t.false(existsSync(join(ROOT, 'lab', 'quagga', 'live')), 'lab/quagga/live removed');
  const links = sh('ip', ['-o', 'link', 'show']);
  t.notRegex(links, /anysip-/, 'no anysip-* interface in the root namespace');
  const procs = sh('ps', ['-eo', 'pid=,args='])
    .split('\n')
    .filter((l) => l.includes('/run/anysip-lab/') && !l.includes('ps -eo'));
  t.deepEqual(procs, [], 'no process of the lab still running');
  if (existsSync('/var/tmp/frr')) {
    const left = readdirSync('/var/tmp/frr');
    t.true(left.every((d) => !/^(zebra|ospfd)\.\d+$/.test(d) || existsSync(`/proc/${d.split('.')[1]}`)), `FRR crash dirs of dead daemons left: ${left.join(' ')}`);
  }
}
