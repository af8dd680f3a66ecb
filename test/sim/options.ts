// The simulator's options, its result, and the config each simulated node runs with.

import type { AnycastMode } from '../../src/anycast/index.js';
import type { ExcuseReport } from './excuses.js';
import type { LocationCheckStats } from './location-checks.js';
import type { LocationPlanStats } from './location-plan.js';
import { ANYCAST, SIP_PORT, type Spray } from './network.js';

export interface SimOptions {
  seed: number;
  calls: number;
  nodes: number;
  /** Packet loss probability on the network (not the bus). */
  loss: number;
  mode: AnycastMode;
  spray: Spray;
  /** Fault episodes (kill + restart, or drain + undrain of one node), spread over the run. */
  faults: number;
  /** New calls per second. */
  rate: number;
  dup: number;
  reorder: number;
  t1: number;
  t2: number;
  /** Write node logs (debug) to stderr. */
  verbose?: boolean;
  /** Print the gate's decisions for messages whose Call-ID contains this. */
  trace?: string;
  /** Run the nodes without bus and gate, as unrelated single proxies (shows what the gate prevents). */
  noGate?: boolean;
  /** The bus loses every location delta (shows what the location checks catch). */
  dropLocationDeltas?: boolean;
  /** 'mixed': calls between phones, REGISTER, OPTIONS; 'location': users register through the cluster and are called through it (location-plan.ts). */
  plan: SimPlan;
  /** Location plan: how many users (0: calls / 12, at least 8). */
  users: number;
}

export type SimPlan = 'mixed' | 'location';

export const DEFAULTS: SimOptions = {
  seed: 1,
  calls: 1000,
  nodes: 3,
  loss: 0.05,
  mode: 'hash',
  spray: 'packet',
  faults: 0,
  rate: 50,
  dup: 0.01,
  reorder: 0.02,
  t1: 500,
  t2: 4000,
  plan: 'mixed',
  users: 0,
};

export interface SimResult {
  options: SimOptions;
  virtualMs: number;
  calls: number;
  outcomes: Record<string, number>;
  packets: number;
  lost: number;
  /** Bus messages by anycast type, over the whole run. */
  bus: { forward: number; query: number; answer: number; relay: number; bytes: number; lost: number };
  /** Taken over the bus, by kind, as classified by the receiving owner. */
  forwarded: Record<string, number>;
  secondChance: number;
  queries: Record<string, number>;
  drops: Record<string, number>;
  faults: string[];
  /** Calls whose outcome a kill excused, and why. */
  excuses: ExcuseReport;
  /** What the location checks compared (location-checks.ts). */
  location: LocationCheckStats;
  /** The location plan's oracle checks (absent with the mixed plan). */
  locationPlan?: LocationPlanStats;
  violations: string[];
}

const SECRET = 'simulated-cluster-branch-secret';

export function nodeYaml(id: number, o: SimOptions): string {
  return `node:
  id: ${id}
  branch_secret: ${SECRET}
listen:
  - id: anycast-udp
    transport: udp
    address: ${ANYCAST}
    port: ${SIP_PORT}
    role: anycast
timers:
  t1: ${o.t1}
  t2: ${o.t2}
  t4: 5000
  timer_c: 60000
registrar:
  enabled: true
  min_expires: 10
  default_expires: 60
admin:
  enabled: false
# The simulator checks transactions and the location table; who may relay is tested in test/unit/auth and test/e2e/auth.
auth:
  open_relay: true
log:
  level: fatal
anycast:
  mode: ${o.mode}
  second_chance: ${60_000 + 64 * o.t1}
  query_timeout: 50
`;
}
