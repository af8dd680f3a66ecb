// Drain in the lab (issue 6): three nodes under 50 calls/s of 3-second calls, per-flow ECMP;
// n2 is drained with `anysip drain` mid-load. Zero calls may fail; the router must lose the
// route via n2 within seconds; n2 must take no new call; it must end `drained`. Then
// `anysip undrain`: the route comes back and n2 proxies new calls again.
// Needs root; without root it FAILS, loudly, never skips. Holds the lab lock the other lab test
// file uses (test/lab/helpers.ts holdLabLock): one lab per machine, never two at once.

import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, nexthops, sh, tail, useLab, zx } from './helpers.js';

const ANYCAST = '192.0.2.10/32';
const ROUTER = 'anysip-lab-router';
const out = mkdtempSync(join(tmpdir(), 'anysip-lab-drain-test-'));

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

function status(node: string): Any {
  const s = sh('ip', ['netns', 'exec', `anysip-lab-${node}`, 'curl', '-sf', '--max-time', '2', 'http://127.0.0.1:8060/status']);
  return s ? JSON.parse(s) : undefined;
}

async function until(what: string, fn: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (fn()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

if (useLab('test/lab/drain.test.ts', () => rmSync(out, { recursive: true, force: true }))) {
  test.serial('drain n2 under 50 calls/s of 3-second calls: no call fails, n2 takes no new call, ends drained', async (t) => {
    t.timeout(170_000);
    const upR = await zx('up.mjs', ['--mode', 'per-flow', '--nodes', '3']);
    t.is(upR.code, 0, `lab/up.mjs failed:\n${tail(upR.out)}`);
    t.is(nexthops(ROUTER, ANYCAST).length, 3);

    const json = join(out, 'drain.json');
    const r = await zx('run.mjs', ['--scenario', 'hold', '--hold', '3000', '--calls', '750', '--rate', '50', '--drain', 'n2@5', '--json', json], 150_000);
    t.true(existsSync(json), `no report:\n${tail(r.out)}`);
    const rep: Any = JSON.parse(readFileSync(json, 'utf8'));
    t.log(`calls: ${rep.calls.ok} ok, ${rep.calls.failed} failed; ${rep.events.map((e: Any) => `${e.action} ${e.node}: route +${e.routeChangeAfter_ms} ms, ${e.messagesToNodeTotal} messages to it after, ${e.newCallsProxiedAfter500ms} new calls after 500 ms`).join('; ')}`);
    t.is(rep.calls.failed, 0, `calls failed during the drain:\n${tail(r.out, 30)}`);
    t.is(rep.calls.ok, 750, tail(r.out, 30));
    const ev = rep.events[0];
    t.is(ev.action, 'drain');
    t.true(ev.ok, `anysip drain failed: ${ev.error}`);
    t.true(ev.command?.ok, `the withdraw command failed: ${JSON.stringify(ev.command)}`);
    t.true(ev.routeChangeAfter_ms !== undefined && ev.routeChangeAfter_ms < 3000, `the router lost the route via n2 ${ev.routeChangeAfter_ms} ms after the drain`);
    t.deepEqual(rep.routes[rep.routes.length - 1].ospf, ['n1', 'n3'], 'the route via n2 stays withdrawn');
    t.is(ev.newCallsProxiedAfter500ms, 0, 'a draining node takes no new call (after the 500 ms the views and the route need)');
    t.is(ev.messagesToNode.fromClientAfterRouteChange.INVITE ?? 0, 0, 'no INVITE reaches n2 from the client side once its route is withdrawn');
    t.true((rep.nodes.n1.fromClient.INVITE ?? 0) > 0 && (rep.nodes.n3.fromClient.INVITE ?? 0) > 0, 'n1 and n3 carry the load');

    // What is left drains away: the transactions' last timers (RFC 6026 Timer L, Timer J: 64 x T1 = 32 s).
    const waited = await until('n2 drained', () => status('n2')?.node?.state === 'drained', 60_000);
    const s = status('n2');
    t.log(`n2 drained ${waited} ms after the load ended; drain status: ${JSON.stringify(s.drain)}`);
    t.is(s.drain.left.server_transactions + s.drain.left.client_transactions, 0);
    t.deepEqual(status('n1').cluster.up, [1, 3], 'peers leave n2 out of the up set');

    // undrain: route back, new calls again.
    const un = sh('ip', ['netns', 'exec', 'anysip-lab-n2', process.execPath, join(ROOT, 'bin', 'anysip.mjs'), 'undrain', '--admin', '127.0.0.1:8060', '--json']);
    t.is(JSON.parse(un).state, 'up', un);
    await until('the route via n2 back', () => nexthops(ROUTER, ANYCAST).length === 3, 10_000);
    await until('peers see n2 up', () => JSON.stringify(status('n1')?.cluster?.up) === '[1,2,3]', 5000);
    const json2 = join(out, 'after-undrain.json');
    const r2 = await zx('run.mjs', ['--scenario', 'basic', '--calls', '150', '--rate', '50', '--json', json2], 90_000);
    const rep2: Any = JSON.parse(readFileSync(json2, 'utf8'));
    t.is(rep2.calls.failed, 0, tail(r2.out, 30));
    t.true((rep2.nodes.n2.sent.INVITE ?? 0) > 0, `n2 proxies new calls again after undrain: ${JSON.stringify(rep2.nodes.n2)}`);
  });
}
