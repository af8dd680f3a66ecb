// Statistics of the anycast gate, registered on the node's prom-client
// registry (src/admin/metrics.ts owns the registry and the drop counter; the
// counter pieces are src/core/metrics.ts).
// Hot path: plain number slots, read by prom-client at scrape time.

import { Histogram } from 'prom-client';

import { readCounter, type Registry, slotCounter } from '../core/metrics.js';

const PREFIX = 'anysip_anycast_';

/** What a message taken over the bus was, as classified by the node that re-injected it. */
export const FORWARD_KINDS = ['reply', 'cancel', 'ack', 'initial', 'retransmission'] as const;
export type ForwardKind = (typeof FORWARD_KINDS)[number];

/** Bus messages this node sent, by anycast message type. */
export const SENT_TYPES = ['forward', 'query', 'answer', 'relay'] as const;
export type SentType = (typeof SENT_TYPES)[number];

export const QUERY_RESULTS = ['have', 'none', 'timeout'] as const;
export type QueryResult = (typeof QUERY_RESULTS)[number];

/** Seconds from reception at the first node to re-injection at the owner. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

export interface AnycastCounters {
  forwarded(kind: ForwardKind): void;
  sent(type: SentType): void;
  secondChance(): void;
  query(result: QueryResult): void;
  latency(seconds: number): void;
  /** Counted in the node's sip_drops_total{reason}. */
  drop(reason: string): void;
}

type Slots<K extends string> = Record<K, number>;

function slots<K extends string>(keys: readonly K[]): Slots<K> {
  const o = {} as Slots<K>;
  for (const k of keys) o[k] = 0;
  return o;
}

export interface AnycastSnapshot {
  forwarded: Record<ForwardKind, number>;
  sent: Record<SentType, number>;
  secondChance: number;
  queries: Record<QueryResult, number>;
}

export class AnycastMetrics implements AnycastCounters {
  private readonly fwd = slots(FORWARD_KINDS);
  private readonly out = slots(SENT_TYPES);
  private readonly queries = slots(QUERY_RESULTS);
  private second = 0;
  private readonly hist: Histogram | undefined;

  /**
   * @param registry where to export (omit in tests and the simulator's bookkeeping)
   * @param dropSink the node's drop counter
   */
  constructor(
    registry: Registry | undefined,
    private readonly dropSink: (reason: string) => void,
  ) {
    if (!registry) return;
    const registers = [registry];
    const labelled = <K extends string>(name: string, help: string, label: string, s: Slots<K>) =>
      slotCounter(registers, PREFIX + name, help, label, () => s);
    labelled('forwarded_total', 'Messages taken over the bus from the node that received them, by kind.', 'kind', this.fwd);
    labelled('bus_sent_total', 'Anycast bus messages sent, by type.', 'type', this.out);
    labelled('queries_total', 'Ownership queries (second chance, receiver-mode strays), by result.', 'result', this.queries);
    readCounter(registers, PREFIX + 'second_chance_total', 'Messages forwarded to a previous owner after a membership change.', () => this.second);
    this.hist = new Histogram({
      name: PREFIX + 'forward_latency_seconds',
      help: 'Time from reception at the first node to re-injection at the owner.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  forwarded(kind: ForwardKind): void {
    this.fwd[kind]++;
  }

  sent(type: SentType): void {
    this.out[type]++;
  }

  secondChance(): void {
    this.second++;
  }

  query(result: QueryResult): void {
    this.queries[result]++;
  }

  latency(seconds: number): void {
    this.hist?.observe(seconds < 0 ? 0 : seconds);
  }

  drop(reason: string): void {
    this.dropSink(reason);
  }

  snapshot(): AnycastSnapshot {
    return { forwarded: { ...this.fwd }, sent: { ...this.out }, secondChance: this.second, queries: { ...this.queries } };
  }
}
