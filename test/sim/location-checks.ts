// The location table's invariants (src/location on src/replica), checked as the run goes:
//
// - Convergence: once no location frame has been in flight for QUIET_MS, every live node whose join
//   sync is done holds the same live bindings (key, version, expiry).
// - No binding is lost on a join: when a (re)started node goes `up`, it holds every live binding
//   any other synced node held SETTLED_MS before (same version or newer).
// - No binding outlives its expiry: a lookup never returns one with expiresAt <= now, and the
//   index by AOR holds exactly the table's live records.

import type { StoredRecord } from '../../src/replica/types.js';
import type { Binding } from '../../src/location/binding.js';
import type { Runtime } from './sim-node.js';

/** How long the bus must have carried no location frame before the copies must agree, ms. */
export const QUIET_MS = 100;
/** A write this old has reached every live peer (bus delay 0.1..0.6 ms per link), ms. */
export const SETTLED_MS = 1;

export interface LocationWorld {
  readonly runtimes: ReadonlyMap<number, Runtime>;
  now(): number;
  violation(text: string): void;
}

export interface LocationCheckStats {
  /** Quiet points at which every synced copy was compared. */
  convergence: number;
  /** Nodes checked as they went up after a (re)start. */
  joins: number;
}

export class LocationChecks {
  private inFlight = 0;
  private lastFrame = -Infinity;
  private checkedQuiet = true;
  private reported = 0;
  readonly stats: LocationCheckStats = { convergence: 0, joins: 0 };
  /** Called at each quiet point with the synced nodes (the location plan checks its users there). */
  onQuiet: ((nodes: Runtime[]) => void) | undefined;

  constructor(private readonly w: LocationWorld) {}

  frameSent(): void {
    this.inFlight++;
    this.lastFrame = this.w.now();
    this.checkedQuiet = false;
  }

  frameDone(): void {
    this.inFlight--;
    this.lastFrame = this.w.now();
  }

  /** After each step of the loop: compare the copies once per quiet spell. */
  step(): void {
    if (this.checkedQuiet || this.inFlight > 0 || this.w.now() - this.lastFrame < QUIET_MS) return;
    this.checkedQuiet = true;
    this.converged('after the bus was quiet');
    this.onQuiet?.(this.synced());
  }

  /** At the end of the run (the bus has long been quiet). */
  final(): void {
    this.converged('at the end');
    this.onQuiet?.(this.synced());
  }

  /** Live nodes whose location table is whole (join sync done, nothing holds them joining). */
  synced(): Runtime[] {
    return [...this.w.runtimes.values()].filter((rt) => rt.alive && this.whole(rt));
  }

  whole(rt: Runtime): boolean {
    return rt.node.locationReplica?.sync.state === 'done' && rt.membership.holding.length === 0;
  }

  private violation(text: string): void {
    if (this.reported++ < 50) this.w.violation(text);
  }

  /** Every synced node holds the same live bindings, and each node's lookups agree with its table. */
  converged(when: string): void {
    const now = this.w.now();
    const nodes = this.synced();
    for (const rt of [...this.w.runtimes.values()].filter((r) => r.alive)) this.expiryAndIndex(rt, now);
    if (nodes.length < 2) return;
    this.stats.convergence++;
    const [first, ...rest] = nodes;
    const a = live(first!, now);
    for (const rt of rest) {
      const b = live(rt, now);
      const diff = difference(a, b);
      if (diff) this.violation(`location copies diverge ${when}: node ${first!.id} vs node ${rt.id}: ${diff}`);
    }
  }

  /** A (re)started node goes up: it holds every binding the others held SETTLED_MS ago. */
  joined(rt: Runtime): void {
    const now = this.w.now();
    this.stats.joins++;
    const mine = live(rt, now);
    for (const other of this.synced()) {
      if (other === rt) continue;
      for (const [key, r] of live(other, now)) {
        if (r.time / 1000 > now - SETTLED_MS) continue;
        const m = mine.get(key);
        if (m === undefined || m.time < r.time) {
          this.violation(
            `node ${rt.id} went up without ${describeRecord(key, r)} that node ${other.id} holds (${m ? 'an older version: ' + describeRecord(key, m) : 'none'}); sync ${JSON.stringify(rt.node.locationReplica?.sync)}`,
          );
          return;
        }
      }
    }
  }

  private expiryAndIndex(rt: Runtime, now: number): void {
    const loc = rt.node.location;
    if (!loc) return;
    let indexed = 0;
    for (const { aor, bindings } of loc.dump(now)) {
      for (const b of bindings) {
        indexed++;
        if (b.expiresAt <= now) this.violation(`node ${rt.id} looks up ${aor} -> ${b.contact} expired at ${b.expiresAt} (now ${now})`);
      }
    }
    let held = 0;
    for (const _ of loc.table.entries(now)) held++;
    if (held !== indexed) this.violation(`node ${rt.id}: the AOR index holds ${indexed} live bindings, the table ${held}`);
  }
}

function live(rt: Runtime, now: number): Map<string, StoredRecord<Binding>> {
  const out = new Map<string, StoredRecord<Binding>>();
  for (const r of rt.node.location!.table.entries(now)) out.set(r.key, r);
  return out;
}

function describeRecord(key: string, r: StoredRecord<Binding>): string {
  return `${key.replace('\n', ' ')} v${r.time}/${r.origin} until ${r.expiresAt}`;
}

/** The first difference between two copies, or undefined when they agree. */
function difference(a: Map<string, StoredRecord<Binding>>, b: Map<string, StoredRecord<Binding>>): string | undefined {
  const out: string[] = [];
  for (const [k, r] of a) {
    const s = b.get(k);
    if (!s) out.push(`only the first holds ${describeRecord(k, r)}`);
    else if (s.time !== r.time || s.origin !== r.origin || s.expiresAt !== r.expiresAt) out.push(`${describeRecord(k, r)} vs ${describeRecord(k, s)}`);
  }
  for (const [k, s] of b) if (!a.has(k)) out.push(`only the second holds ${describeRecord(k, s)}`);
  if (out.length === 0) return undefined;
  return `${out.length} record(s) differ (of ${a.size} / ${b.size}), first: ${out[0]}`;
}
