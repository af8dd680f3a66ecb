// Digest through the per-packet lab (issue 13): 3 nodes, the client not trusted (lab/up.mjs --auth).
// SIPp registers and calls with [authentication]; per-packet ECMP puts a challenged request and
// its retry on different nodes about two times in three, and the anycast gate must take every
// retry to the node that issued its nonce (the Call-ID's owner): zero failures, zero stale nonces.
// Needs root; without root it FAILS, loudly, never skips. Holds the lab lock (one lab per machine).

import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh, tail, useLab, zx } from './helpers.js';

const NODES = 3;
const CALLS = 100;
const out = mkdtempSync(join(tmpdir(), 'anysip-lab-auth-test-'));

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

function status(node: string): Any {
  const s = sh('ip', ['netns', 'exec', `anysip-lab-${node}`, 'curl', '-sf', '--max-time', '2', 'http://127.0.0.1:8060/status']);
  return s ? JSON.parse(s) : undefined;
}

async function run(scenario: string): Promise<{ out: string; rep: Any }> {
  const json = join(out, `${scenario}.json`);
  const r = await zx('run.mjs', ['--scenario', scenario, '--calls', String(CALLS), '--rate', '50', '--json', json], 110_000);
  if (!existsSync(json)) throw new Error(`lab/run.mjs --scenario ${scenario} wrote no report:\n${tail(r.out)}`);
  return { out: r.out, rep: JSON.parse(readFileSync(json, 'utf8')) };
}

/** The auth counters summed over the nodes. */
function authTotals(): Record<string, number> {
  const sum: Record<string, number> = {};
  for (let i = 1; i <= NODES; i++) for (const [k, v] of Object.entries(status(`n${i}`).auth as Record<string, unknown>)) if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

if (useLab('test/lab/auth.test.ts', () => rmSync(out, { recursive: true, force: true }))) {
  test.serial(`per-packet, ${NODES} nodes, the client untrusted: SIPp registers ${CALLS} times and calls ${CALLS} times with digest, zero failures`, async (t) => {
    t.timeout(240_000);
    const up = await zx('up.mjs', ['--mode', 'per-packet', '--nodes', String(NODES), '--auth']);
    t.is(up.code, 0, `lab/up.mjs --auth failed:\n${tail(up.out)}`);

    const reg = await run('auth-register');
    t.log(`register: ${reg.rep.calls.ok} ok, ${reg.rep.calls.failed} failed; REGISTERs per node: ${Object.entries(reg.rep.nodes).map(([n, x]: [string, Any]) => `${n} ${x.fromClient.REGISTER ?? 0}`).join(', ')}`);
    t.is(reg.rep.calls.failed, 0, tail(reg.out, 30));
    t.is(reg.rep.calls.ok, CALLS);
    for (const [name, n] of Object.entries(reg.rep.nodes) as [string, Any][]) t.true((n.fromClient.REGISTER ?? 0) > 0, `the spray reached ${name}`);

    const call = await run('auth-call');
    t.log(`calls: ${call.rep.calls.ok} ok, ${call.rep.calls.failed} failed; INVITEs per node: ${Object.entries(call.rep.nodes).map(([n, x]: [string, Any]) => `${n} ${x.fromClient.INVITE ?? 0}`).join(', ')}`);
    t.is(call.rep.calls.failed, 0, tail(call.out, 30));
    t.is(call.rep.calls.ok, CALLS);

    const a = authTotals();
    t.log(`auth over the nodes: ${JSON.stringify(a)}`);
    t.is(a.auth_ok, 2 * CALLS, 'every retry was accepted, once');
    t.is(a.auth_challenges, 2 * CALLS, 'one challenge per REGISTER and per call, none again');
    t.is(a.auth_stale, 0, 'no retry reached a node that had not issued its nonce');
    t.is(a.auth_failed, 0);
    t.is(a.relay_refused, 0);
  });
}
