// The metrics library every layer uses: a per-node prom-client registry and
// counters whose values live in plain slots (the hot path bumps a number, no
// label hashing), read by prom-client at scrape time. Lower layers register
// here; src/admin/ only composes them and serves HTTP. Never the global registry:
// the simulator runs several nodes in one process.

import { Counter, Gauge, Registry } from 'prom-client';

export { Registry };

export const PREFIX = 'anysip_';
export const OTHER = 'other';

/** A per-node registry. */
export function createRegistry(): Registry {
  return new Registry();
}

/** What a layer needs to register its metrics: the node's registry (the admin `Metrics` is one). */
export interface MetricsHost {
  readonly registry: Registry;
  /** Export a counter snapshot under its own names (src/admin/metrics.ts implements it). */
  addSnapshot?(src: SnapshotSource): void;
}

export interface Slot {
  n: number;
}

/** A fixed or capped set of label values, each with its own count; past the cap values fold into `other`. */
export class LabelCounts {
  readonly slots = new Map<string, Slot>();
  readonly other: Slot = { n: 0 };

  constructor(
    private readonly cap: number,
    preset: readonly string[] = [],
  ) {
    for (const v of preset) this.slots.set(v, { n: 0 });
    this.slots.set(OTHER, this.other);
  }

  /** The slot for `value`, creating it while under the cap. */
  slot(value: string): Slot {
    const s = this.slots.get(value);
    if (s) return s;
    if (this.slots.size > this.cap) return this.other; // +1: `other` is in the map
    const created = { n: 0 };
    this.slots.set(value, created);
    return created;
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, s] of this.slots) if (s.n > 0) out[k] = s.n;
    return out;
  }
}

/**
 * A labelled Prometheus counter whose values live in plain slots the hot path increments
 * (no label hashing per event): it is rebuilt from `read()` on each scrape.
 */
export function slotCounter(registers: Registry[], name: string, help: string, label: string, read: () => Record<string, number>): Counter {
  return new Counter({
    name,
    help,
    labelNames: [label],
    registers,
    collect() {
      this.reset();
      for (const [value, n] of Object.entries(read())) if (n > 0) this.inc({ [label]: value }, n);
    },
  });
}

/** An unlabelled counter read from one number at scrape time. */
export function readCounter(registers: Registry[], name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      const n = read();
      if (n > 0) this.inc(n);
    },
  });
}

/** A layer's counters as /status shows them: numbers, or records of numbers by one label. */
export type CounterSnapshot = Record<string, number | Record<string, number> | undefined>;

export interface SnapshotSource {
  /**
   * Metric names are `anysip_` + `prefix` + the key in snake case (`framingErrors` under
   * `transport_` is `anysip_transport_framing_errors`); a key already in snake case keeps its name.
   */
  prefix: string;
  read: () => CounterSnapshot;
  /** Keys that are levels (connections open now) rather than counts: exported as gauges. */
  gauges?: readonly string[];
  /** Label name of a keyed record: per key, else `label`, else `reason`. */
  labels?: Readonly<Record<string, string>>;
  label?: string;
  help?: Readonly<Record<string, string>>;
}

export const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

/** The Prometheus name of a snapshot key. */
export function metricName(prefix: string, key: string): string {
  return PREFIX + prefix + snakeCase(key);
}

/**
 * Exports layers' counter snapshots: `sync()` (run before each scrape) reads every source once
 * and registers a collector for each key not seen before, so a counter a layer adds to its
 * snapshot appears in /metrics with no further wiring. Names already registered elsewhere
 * (hand-written collectors with their own labels) are left to those.
 */
export class SnapshotExporter {
  private readonly sources: { src: SnapshotSource; last: CounterSnapshot; known: Set<string> }[] = [];

  constructor(private readonly registry: Registry) {}

  add(src: SnapshotSource): void {
    this.sources.push({ src, last: {}, known: new Set() });
  }

  sync(): void {
    for (const s of this.sources) {
      try {
        s.last = s.src.read();
      } catch {
        s.last = {}; // a failing source is left out of this scrape, never fails it
      }
      for (const [key, value] of Object.entries(s.last)) {
        if (value === undefined || s.known.has(key)) continue;
        s.known.add(key);
        const name = metricName(s.src.prefix, key);
        if (this.registry.getSingleMetric(name)) continue;
        this.register(s, key, name, typeof value === 'object');
      }
    }
  }

  private register(s: { src: SnapshotSource; last: CounterSnapshot }, key: string, name: string, labelled: boolean): void {
    const help = s.src.help?.[key] ?? `${key} (${s.src.prefix.replace(/_$/, '') || 'node'} counters of /status).`;
    const label = s.src.labels?.[key] ?? s.src.label ?? 'reason';
    const gauge = s.src.gauges?.includes(key) ?? false;
    const registers = [this.registry];
    const labelNames = labelled ? [label] : [];
    const fill = (set: (labels: Record<string, string>, n: number) => void) => {
      const v = s.last[key];
      if (typeof v === 'number') set({}, v);
      else if (v) for (const [lv, n] of Object.entries(v)) if (typeof n === 'number') set({ [label]: lv }, n);
    };
    // Every value the snapshot holds is exported, zeros included: /status and /metrics agree.
    if (gauge) {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill((l, n) => this.set(l, n));
        },
      });
    } else {
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill((l, n) => n >= 0 && this.inc(l, n));
        },
      });
    }
  }
}
