// npm run sim -- --seed S --calls N --nodes K --loss P [--mode hash|receiver] [--spray packet|flow] [--faults F]
// Prints a summary whose last line is `violations: N`; exits 1 on any violation, printing the replay command.

import { Command, InvalidArgumentError, Option } from 'commander';
import { summary } from './report.js';
import { DEFAULTS, Simulation, type SimOptions } from './sim.js';

function num(min: number, max: number, integer: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}`);
    }
    return n;
  };
}

async function main(): Promise<void> {
  const cmd = new Command('sim')
    .description('deterministic anysip cluster simulation')
    .option('--seed <n>', 'PRNG seed', num(0, 2 ** 32 - 1, true), DEFAULTS.seed)
    .option('--calls <n>', 'calls to place', num(1, 10_000_000, true), DEFAULTS.calls)
    .option('--nodes <n>', 'cluster size', num(1, 64, true), DEFAULTS.nodes)
    .option('--loss <p>', 'packet loss probability', num(0, 0.5, false), DEFAULTS.loss)
    .addOption(new Option('--mode <mode>', 'anycast ownership mode').choices(['hash', 'receiver']).default(DEFAULTS.mode))
    .addOption(new Option('--spray <how>', 'ECMP spraying').choices(['packet', 'flow']).default(DEFAULTS.spray))
    .option('--faults <n>', 'fault episodes (kill+restart or drain+undrain)', num(0, 1000, true), DEFAULTS.faults)
    .option('--rate <n>', 'new calls per second', num(0.01, 100_000, false), DEFAULTS.rate)
    .addOption(new Option('--plan <plan>', 'mixed: calls between phones, REGISTER, OPTIONS; location: users register through the cluster and are called through it').choices(['mixed', 'location']).default(DEFAULTS.plan))
    .option('--users <n>', 'location plan: users (0: calls / 12, at least 8)', num(0, 60_000, true), DEFAULTS.users)
    .option('--verbose', 'node debug logs on stderr', false)
    .option('--trace <callid>', 'print the gate decisions for Call-IDs containing this')
    .option('--json', 'print the result as JSON before the summary', false);
  cmd.parse(process.argv);
  const a = cmd.opts<SimOptions & { json: boolean }>();
  const started = performance.now();
  const sim = new Simulation({
    seed: a.seed,
    calls: a.calls,
    nodes: a.nodes,
    loss: a.loss,
    mode: a.mode,
    spray: a.spray,
    faults: a.faults,
    rate: a.rate,
    plan: a.plan,
    users: a.users,
    verbose: a.verbose,
    trace: a.trace,
  });
  const r = await sim.run();
  if (a.json) console.log(JSON.stringify(r));
  for (const line of summary(r, performance.now() - started)) console.log(line);
  process.exitCode = r.violations.length > 0 ? 1 : 0;
}

await main();
