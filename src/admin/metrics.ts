// Per-node statistics, exposed in Prometheus text format and as a plain
// snapshot for /status: the SIP counters, and the composition of every layer's
// metrics on one registry (the pieces are in src/core/metrics.ts). Each Metrics
// owns its own prom-client Registry because the simulator runs several nodes in
// one process.
//
// Hot path: the typed methods only bump a number in a pre-resolved slot (no
// allocation, no label hashing). prom-client reads the slots when scraped.

import { collectDefaultMetrics, Gauge } from 'prom-client';
import { systemClock, type Clock } from '../core/clock.js';
import {
  createRegistry, LabelCounts, OTHER, PREFIX, readCounter, slotCounter, SnapshotExporter,
  type MetricsHost, type Slot, type SnapshotSource,
} from '../core/metrics.js';

/** Methods that get their own label value; anything else counts as `other`. */
export const KNOWN_METHODS = [
  'INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'PRACK',
  'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE',
] as const;

/** Distinct drop reasons kept before new ones fold into `other`. */
export const MAX_DROP_REASONS = 32;

export { OTHER };

/** Response codes as label values: one slot per code 100..699, created on first use. */
class CodeCounts {
  private readonly byCode: (Slot | undefined)[] = new Array(700);
  readonly other: Slot = { n: 0 };

  slot(code: number): Slot {
    if (!(code >= 100 && code <= 699) || !Number.isInteger(code)) return this.other;
    return (this.byCode[code] ??= { n: 0 });
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    this.byCode.forEach((s, code) => {
      if (s && s.n > 0) out[String(code)] = s.n;
    });
    if (this.other.n > 0) out[OTHER] = this.other.n;
    return out;
  }
}

/** Live values the node provides, read at scrape time. A value left out is not exported (contacts: 0). */
export interface GaugeValues {
  serverTransactions?: number;
  clientTransactions?: number;
  registrarContacts?: number;
}

export interface MetricsSnapshot {
  sip_requests_received_total: Record<string, number>;
  sip_requests_sent_total: Record<string, number>;
  sip_responses_received_total: Record<string, number>;
  sip_responses_sent_total: Record<string, number>;
  sip_parse_errors_total: number;
  sip_drops_total: Record<string, number>;
}

export interface MetricsOptions {
  /** Uptime is measured on this clock (the simulator's virtual one). Default: wall clock. */
  clock?: Clock;
  /** Also export Node process metrics (CPU, memory, event loop lag), prefixed anysip_. Default false. */
  processMetrics?: boolean;
}

export class Metrics implements MetricsHost {
  readonly registry = createRegistry();
  private readonly exporter = new SnapshotExporter(this.registry);

  private readonly methodsIn = new LabelCounts(KNOWN_METHODS.length, KNOWN_METHODS);
  private readonly methodsOut = new LabelCounts(KNOWN_METHODS.length, KNOWN_METHODS);
  private readonly codesIn = new CodeCounts();
  private readonly codesOut = new CodeCounts();
  private readonly parseErrors: Slot = { n: 0 };
  private readonly drops = new LabelCounts(MAX_DROP_REASONS);
  private gauges: (() => GaugeValues) | undefined;
  private readonly clock: Clock;
  private readonly startedAt: number;

  constructor(opts: MetricsOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.startedAt = this.clock.now();
    const registers = [this.registry];

    const labelled = (name: string, help: string, label: string, counts: LabelCounts | CodeCounts) =>
      slotCounter(registers, PREFIX + name, help, label, () => counts.snapshot());

    labelled('sip_requests_received_total', 'SIP requests received, by method.', 'method', this.methodsIn);
    labelled('sip_requests_sent_total', 'SIP requests sent, by method.', 'method', this.methodsOut);
    labelled('sip_responses_received_total', 'SIP responses received, by status code.', 'code', this.codesIn);
    labelled('sip_responses_sent_total', 'SIP responses sent, by status code.', 'code', this.codesOut);
    labelled('sip_drops_total', 'Messages dropped without an answer, by reason.', 'reason', this.drops);

    const parseErrors = this.parseErrors;
    readCounter(registers, PREFIX + 'sip_parse_errors_total', 'Datagrams or stream messages that could not be parsed as SIP.', () => parseErrors.n);
    // Whatever counters() gains later is exported under its own name.
    this.addSnapshot({ prefix: '', read: () => this.counters() as unknown as ReturnType<SnapshotSource['read']> });

    const self = this;
    new Gauge({
      name: PREFIX + 'transactions_active',
      help: 'Transactions currently held, by kind (server, client).',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset(); // a source that went away (or threw) must not leave stale values
        const g = self.readGauges();
        if (g?.serverTransactions !== undefined) this.set({ kind: 'server' }, g.serverTransactions);
        if (g?.clientTransactions !== undefined) this.set({ kind: 'client' }, g.clientTransactions);
      },
    });
    new Gauge({
      name: PREFIX + 'registrar_contacts',
      help: 'Contacts currently bound in the registrar.',
      registers,
      collect() {
        this.set(self.readGauges()?.registrarContacts ?? 0);
      },
    });
    new Gauge({
      name: PREFIX + 'uptime_seconds',
      help: 'Seconds since this node started.',
      registers,
      collect() {
        this.set(self.uptimeSeconds());
      },
    });

    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  requestIn(method: string): void {
    this.methodsIn.slot(method).n++;
  }

  requestOut(method: string): void {
    this.methodsOut.slot(method).n++;
  }

  responseIn(code: number): void {
    this.codesIn.slot(code).n++;
  }

  responseOut(code: number): void {
    this.codesOut.slot(code).n++;
  }

  parseError(): void {
    this.parseErrors.n++;
  }

  /** `reason` should be a short fixed identifier (e.g. 'owner_down', 'bad_mac'), never message data. */
  drop(reason: string): void {
    this.drops.slot(reason).n++;
  }

  /** Register the callback the gauges are read from at scrape time. Replaces an earlier one. */
  setGauges(fn: () => GaugeValues): void {
    this.gauges = fn;
  }

  uptimeSeconds(): number {
    return Math.max(0, (this.clock.now() - this.startedAt) / 1000);
  }

  /**
   * Export a layer's counter snapshot (the object /status shows) under the same names,
   * `anysip_<prefix><key>`; keys it gains later appear at the next scrape.
   */
  addSnapshot(src: SnapshotSource): void {
    this.exporter.add(src);
  }

  /** Prometheus text exposition format. */
  text(): Promise<string> {
    this.exporter.sync();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Plain copy of the counters (non-zero label values only), for /status and tests. */
  counters(): MetricsSnapshot {
    return {
      sip_requests_received_total: this.methodsIn.snapshot(),
      sip_requests_sent_total: this.methodsOut.snapshot(),
      sip_responses_received_total: this.codesIn.snapshot(),
      sip_responses_sent_total: this.codesOut.snapshot(),
      sip_parse_errors_total: this.parseErrors.n,
      sip_drops_total: this.drops.snapshot(),
    };
  }

  /** A failing gauge callback must not fail the whole scrape: its gauges are just left out. */
  private readGauges(): GaugeValues | undefined {
    try {
      return this.gauges?.();
    } catch {
      return undefined;
    }
  }
}
