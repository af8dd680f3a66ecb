// The simulator's printed summary and replay command (shared by the CLI and the tests).

import type { SimOptions, SimResult } from './sim.js';

export function replayCommand(o: SimOptions): string {
  return (
    `npm run sim -- --seed ${o.seed} --calls ${o.calls} --nodes ${o.nodes} --loss ${o.loss} --mode ${o.mode} ` +
    `--spray ${o.spray} --faults ${o.faults} --rate ${o.rate}` +
    (o.plan === 'location' ? ` --plan location${o.users ? ' --users ' + o.users : ''}` : '')
  );
}

export function summary(r: SimResult, wallMs: number): string[] {
  const o = r.options;
  const per = (n: number) => (n / Math.max(1, r.calls)).toFixed(3);
  const pct = (n: number) => ((100 * n) / Math.max(1, r.calls)).toFixed(1) + '%';
  const lines = [
    `anysip simulation: seed ${o.seed}, ${o.nodes} nodes, ${o.calls} calls, loss ${o.loss}, mode ${o.mode}, spray ${o.spray}, faults ${o.faults}, plan ${o.plan}`,
    `virtual time ${(r.virtualMs / 1000).toFixed(1)} s, wall ${(wallMs / 1000).toFixed(1)} s`,
    `network packets ${r.packets} (lost ${r.lost})`,
    `outcomes ${JSON.stringify(r.outcomes)}`,
    `bus messages per call: forward ${per(r.bus.forward)}, query ${per(r.bus.query)}, answer ${per(r.bus.answer)}, relay ${per(r.bus.relay)}, total ${per(r.bus.forward + r.bus.query + r.bus.answer + r.bus.relay)}; bytes per call ${per(r.bus.bytes)}; lost on dead links ${r.bus.lost}`,
    `forwarded by kind ${JSON.stringify(r.forwarded)}, second chance ${r.secondChance}`,
    `queries ${JSON.stringify(r.queries)}`,
    `drops ${JSON.stringify(r.drops)}`,
  ];
  const e = r.excuses;
  lines.push(
    `excused ${e.excused} of ${r.calls} calls (${pct(e.excused)}): outcome ${e.waived.outcome}, double fork ${e.waived.doubleFork}; ` +
      `exposed to a kill ${e.exposed} (${pct(e.exposed)}) by what died ${JSON.stringify(e.byKind)}; the old rule excused ${e.broad} (${pct(e.broad)})`,
  );
  lines.push(`location: copies compared at ${r.location.convergence} quiet points, ${r.location.joins} node(s) checked whole as they went up`);
  const lp = r.locationPlan;
  if (lp) {
    lines.push(
      `location plan: ${lp.users} users, ${lp.registers} REGISTERs, ${lp.unregisters} unregisters, ${lp.writes} registrar writes; ` +
        `calls whose lookup found the user ${lp.callsFound}, found none ${lp.callsNotFound} ${JSON.stringify(lp.notFoundBy)}, raced a write ${lp.callsRacing}; ` +
        `lookups checked ${lp.lookups} (raced a write ${lp.lookupsRacing}), user x node checks at quiet points ${lp.sweeps}`,
    );
  }
  for (const f of r.faults) lines.push(`fault ${f}`);
  for (const v of r.violations.slice(0, 20)) lines.push(`VIOLATION ${v}`);
  if (r.violations.length > 20) lines.push(`... ${r.violations.length - 20} more`);
  if (r.violations.length > 0) lines.push(`replay: ${replayCommand(o)}`);
  lines.push(`violations: ${r.violations.length}`);
  return lines;
}
