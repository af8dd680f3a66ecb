// The periodic one-line summary an operator reads in the log: state, what the
// node holds now, and what changed since the previous line (non-zero deltas of
// every counter /status shows), so a flood or a scan is visible at `info`.

import type { Logger } from '../core/log.js';

export interface SummaryOptions {
  /** Seconds between lines; 0 turns the summary off. */
  intervalSeconds: number;
  log: Logger;
  /** The node's /status object: counters are read from its `counters` and `transport` members. */
  status: () => Record<string, unknown>;
}

/** Every numeric leaf of `v`, keyed by its dotted path. */
export function numericLeaves(v: unknown, prefix = '', out: Record<string, number> = {}): Record<string, number> {
  if (typeof v === 'number' && Number.isFinite(v)) out[prefix] = v;
  else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) numericLeaves(x, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

/** Counters that grew between two readings (gauges that fell are left to `holds`). */
export function grown(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(after)) {
    const d = n - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/** The sum of the deltas whose key starts with `prefix`. */
function sumOf(delta: Record<string, number>, prefix: string): number {
  let n = 0;
  for (const [k, d] of Object.entries(delta)) if (k.startsWith(prefix)) n += d;
  return n;
}

export class Summary {
  private timer: NodeJS.Timeout | undefined;
  private last: Record<string, number> = {};

  constructor(private readonly o: SummaryOptions) {}

  start(): void {
    if (this.o.intervalSeconds <= 0) return;
    this.last = this.counters(this.o.status());
    this.timer = setInterval(() => this.emit(), this.o.intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One line now (also what the timer calls). */
  emit(): void {
    try {
      const s = this.o.status();
      const now = this.counters(s);
      const delta = grown(this.last, now);
      this.last = now;
      const node = s.node as { state?: string } | undefined;
      const tx = s.transactions as { serverTransactions?: number; clientTransactions?: number } | undefined;
      const registrar = s.registrar as { contacts?: number } | undefined;
      this.o.log.info(
        {
          state: node?.state,
          server_transactions: tx?.serverTransactions,
          client_transactions: tx?.clientTransactions,
          contacts: registrar?.contacts,
          interval_s: this.o.intervalSeconds,
          delta,
        },
        `summary: ${node?.state ?? '?'}, ${tx?.serverTransactions ?? 0} server / ${tx?.clientTransactions ?? 0} client transactions, ` +
          `+${sumOf(delta, 'counters.sip_requests_received_total.')} requests in, +${sumOf(delta, 'counters.sip_requests_sent_total.')} out, ` +
          `+${sumOf(delta, 'counters.sip_drops_total.')} dropped`,
      );
    } catch (err) {
      this.o.log.error({ err }, 'summary: reading the status failed');
    }
  }

  private counters(s: Record<string, unknown>): Record<string, number> {
    return { ...numericLeaves(s.counters, 'counters'), ...numericLeaves(s.transport, 'transport'), ...numericLeaves(s.cluster, 'cluster') };
  }
}
