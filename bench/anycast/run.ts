// Anycast forwarding cost per call, from the deterministic simulator: for each ownership mode
// (hash, receiver) and ECMP spraying (per packet, per flow), how many bus messages the cluster
// exchanged per call, and of which kind. Results are recorded in bench/anycast/RESULTS.md.
//
//   npx tsx bench/anycast/run.ts [--calls 3000] [--seed 1] [--loss 0.05] [--nodes 3,5] [--faults 0]

import { Simulation, type SimResult } from '../../test/sim/sim.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};

const calls = Number(arg('calls', '3000'));
const seed = Number(arg('seed', '1'));
const loss = Number(arg('loss', '0.05'));
const faults = Number(arg('faults', '0'));
const sizes = arg('nodes', '3,5').split(',').map(Number);

const per = (n: number | undefined) => ((n ?? 0) / calls).toFixed(2);

console.log(`calls ${calls}, seed ${seed}, loss ${loss}, faults ${faults}; figures are per call (calls include REGISTER and OPTIONS exchanges)\n`);
console.log('| nodes | mode | spray | SIP forwards | queries | answers | bus msgs | bus bytes | reply | CANCEL | ACK | initial | retrans. | violations |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const raw: Array<{ nodes: number; mode: string; spray: string; result: SimResult }> = [];
for (const nodes of sizes) {
  for (const mode of ['hash', 'receiver'] as const) {
    for (const spray of ['packet', 'flow'] as const) {
      const r = await new Simulation({ seed, calls, nodes, loss, mode, spray, faults }).run();
      raw.push({ nodes, mode, spray, result: r });
      const b = r.bus;
      const f = r.forwarded;
      console.log(
        `| ${nodes} | ${mode} | ${spray} | ${per(b.forward)} | ${per(b.query)} | ${per(b.answer)} | ${per(b.forward + b.query + b.answer + b.relay)} | ${per(b.bytes).replace(/\.\d+$/, '')} ` +
          `| ${per(f.reply)} | ${per(f.cancel)} | ${per(f.ack)} | ${per(f.initial)} | ${per(f.retransmission)} | ${r.violations.length} |`,
      );
    }
  }
}
if (process.argv.includes('--json')) console.log(JSON.stringify(raw.map((x) => ({ ...x, result: { ...x.result, violations: x.result.violations.length } }))));
