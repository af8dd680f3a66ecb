// A REGISTER seen by every node (issue 12 target: within 50 ms p99 in the lab).
// Brings up the lab (3 nodes, per-packet ECMP by default), registers --users users through the
// anycast address (one REGISTER and Call-ID each, lab/run.mjs --scenario register-users), then reads
// every node's anysip_location_replication_lag_seconds histogram: the time from a binding's write on
// the node that took the REGISTER to its arrival on each other node, by the nodes' clocks (one host's
// clock in the lab, so no skew). Tears the lab down at the end.
// Run as root: npx tsx bench/location/propagation.ts [--users N] [--rate R] [--mode per-packet|per-flow]
// Writes nothing: paste what it prints into bench/location/RESULTS.md with the command.

import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ZX = join(ROOT, 'node_modules', '.bin', 'zx');
const NODES = 3;
const METRIC = 'anysip_location_replication_lag_seconds';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const users = Number(arg('users', '1000'));
const rate = Number(arg('rate', '100'));
const mode = arg('mode', 'per-packet');

function lab(script: string, args: string[]): string {
  const r = spawnSync(ZX, [join(ROOT, 'lab', script), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`lab/${script} ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function scrape(node: string): string {
  const r = spawnSync('/usr/sbin/ip', ['netns', 'exec', `anysip-lab-${node}`, 'curl', '-sf', '--max-time', '5', 'http://127.0.0.1:8060/metrics'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not scrape ${node}'s /metrics: ${r.stderr}`);
  return r.stdout;
}

/** Cumulative bucket counts by upper bound (seconds), from the Prometheus text. */
function buckets(text: string): Map<number, number> {
  const m = new Map<number, number>();
  const re = new RegExp(`^${METRIC}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\d+)`, 'gm');
  for (const [, le, n] of text.matchAll(re)) {
    const bound = le === '+Inf' ? Infinity : Number(le);
    m.set(bound, (m.get(bound) ?? 0) + Number(n));
  }
  return m;
}

/** The smallest bucket bound that holds at least fraction `q` of the observations. */
function quantile(b: Map<number, number>, q: number): number {
  const total = b.get(Infinity) ?? 0;
  for (const [le, n] of [...b].sort((x, y) => x[0] - y[0])) if (n >= q * total) return le;
  return Infinity;
}

const ms = (s: number) => (s === Infinity ? 'over the last bucket' : `<= ${s * 1000} ms`);

try {
  lab('up.mjs', ['--mode', mode, '--nodes', String(NODES)]);
  lab('run.mjs', ['--scenario', 'register-users', '--calls', String(users), '--rate', String(rate), '--quiet']);
  await new Promise((r) => setTimeout(r, 1000)); // the last deltas land
  const all = new Map<number, number>();
  for (let i = 1; i <= NODES; i++) {
    const b = buckets(scrape(`n${i}`));
    for (const [le, n] of b) all.set(le, (all.get(le) ?? 0) + n);
    console.log(`n${i}: ${b.get(Infinity) ?? 0} bindings arrived from the others; p50 ${ms(quantile(b, 0.5))}, p99 ${ms(quantile(b, 0.99))}`);
  }
  const total = all.get(Infinity) ?? 0;
  const within = all.get(0.05) ?? 0; // cumulative: every arrival within 50 ms
  console.log(`propagation (${mode}, ${NODES} nodes, ${users} REGISTERs at ${rate}/s): ${total} arrivals (expected ${users * (NODES - 1)}); p50 ${ms(quantile(all, 0.5))}, p99 ${ms(quantile(all, 0.99))}, max ${ms(quantile(all, 1))}; ${((100 * within) / (total || 1)).toFixed(2)}% within 50 ms (target: p99 <= 50 ms)`);
  console.log(`buckets (cumulative): ${[...all].sort((x, y) => x[0] - y[0]).map(([le, n]) => `${le === Infinity ? '+Inf' : le * 1000 + 'ms'}:${n}`).join(' ')}`);
} finally {
  lab('down.mjs', []);
}
