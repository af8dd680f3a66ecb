// Per-packet load sharing on the Linux router, as `ip load-sharing per-packet` on a Cisco:
//
//   nftables (table ip anysip-lab-lb, prerouting, mangle priority):
//     ip daddr <anycast> meta mark set numgen inc mod K map { 0 : m1, 1 : m2, ... }
//   policy routing:  ip rule fwmark m_i lookup table 100+i   (one table per anysip host)
//   table 100+i:     <anycast>/32 via <host i> dev anysip-r-n<i>
//
// The per-host tables must follow OSPF: `syncLb` reads the router's OSPF-installed
// ECMP route for the anycast /32 (the main table, written by zebra) and makes the
// per-host tables and the nft map list exactly the next hops OSPF currently has.
// lab/lb-sync.mjs runs it every 250 ms while the lab is up, so when a host stops
// announcing (ospfd dead, link down), within dead-interval + 250 ms its share
// goes to the others. A marked packet whose table is empty falls through to the main
// table (the rule is `lookup`, not `goto`), i.e. to per-flow ECMP, never to a blackhole.

import { nftSpray } from './render.mjs';
import { anycastNexthops, sh } from './lab.mjs';

/** Install the ip rules (idempotent). */
export function installRules(desc) {
  const ns = desc.router.ns;
  for (const n of desc.nodes) {
    const pref = String(desc.lb.rulePrefBase + n.index);
    sh('ip', ['-n', ns, 'rule', 'del', 'pref', pref], { ok: true });
    sh('ip', ['-n', ns, 'rule', 'add', 'pref', pref, 'fwmark', String(n.mark), 'lookup', String(n.table)]);
  }
}

/** Make the per-host tables and the nft spray map match the OSPF next hops. Returns the alive node indices. */
export function syncLb(desc, last) {
  const ns = desc.router.ns;
  const hops = anycastNexthops(ns, desc.anycast);
  const alive = [];
  for (const n of desc.nodes) {
    const hop = hops.find((h) => h.gateway === n.address && h.dev === n.routerIface);
    if (hop) alive.push(n.index);
  }
  const key = alive.join(',');
  if (last && last.key === key) return last;
  for (const n of desc.nodes) {
    if (alive.includes(n.index)) {
      sh('ip', ['-n', ns, 'route', 'replace', `${desc.anycast}/32`, 'via', n.address, 'dev', n.routerIface, 'table', String(n.table)]);
    } else {
      sh('ip', ['-n', ns, 'route', 'del', `${desc.anycast}/32`, 'table', String(n.table)], { ok: true });
    }
  }
  sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: nftSpray(desc, alive) });
  return { key, alive };
}
