// Many seeds in one process, for hunting rare violations:
//   npx tsx test/sim/sweep.ts --from 1 --to 50 [--calls 1500] [--nodes 3,5] [--faults 6] [--modes hash,receiver] [--sprays packet,flow] [--plan mixed|location]
// Prints one line per failing run (with its replay command) and a total, with the calls kills excused.

import { replayCommand } from './report.js';
import { Simulation, type SimOptions } from './sim.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const from = Number(arg('from', '1'));
const to = Number(arg('to', '20'));
const calls = Number(arg('calls', '1500'));
const faults = Number(arg('faults', '6'));
const loss = Number(arg('loss', '0.05'));
const nodes = arg('nodes', '3,5').split(',').map(Number);
const modes = arg('modes', 'hash,receiver').split(',') as Array<SimOptions['mode']>;
const sprays = arg('sprays', 'packet,flow').split(',') as Array<SimOptions['spray']>;
const plan = arg('plan', 'mixed') as SimOptions['plan'];

let runs = 0;
let failed = 0;
let total = 0;
let excused = 0;
let exposed = 0;
let broad = 0;
let worst = 0;
for (let seed = from; seed <= to; seed++) {
  for (const n of nodes) {
    for (const mode of modes) {
      for (const spray of sprays) {
        const o: Partial<SimOptions> = { seed, calls, nodes: n, loss, mode, spray, faults, plan };
        const r = await new Simulation(o).run();
        runs++;
        total += r.calls;
        excused += r.excuses.excused;
        exposed += r.excuses.exposed;
        broad += r.excuses.broad;
        worst = Math.max(worst, r.excuses.excused / Math.max(1, r.calls));
        if (r.violations.length > 0) {
          failed++;
          console.log(`FAIL ${replayCommand(r.options)}: ${r.violations.length} violation(s); first: ${r.violations[0]!.split('\n')[0]}`);
        }
      }
    }
  }
}
const pct = (n: number): string => ((100 * n) / Math.max(1, total)).toFixed(2) + '%';
console.log(`${runs} runs, ${total} calls, ${failed} failed`);
console.log(`excused: ${excused} (${pct(excused)}, worst run ${(100 * worst).toFixed(2)}%); exposed to a kill: ${exposed} (${pct(exposed)}); the old rule excused: ${broad} (${pct(broad)})`);
process.exitCode = failed > 0 ? 1 : 0;
