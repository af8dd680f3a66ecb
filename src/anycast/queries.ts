// Ownership queries in flight, by query id and by transaction key: asking
// peers "do you hold this?", collecting their answers, and handing the result
// to the gate, which decides where the message goes.

import type { Bus } from '../cluster/types.js';
import type { SipMessage } from '../sip/message.js';
import type { TimerWheel } from '../tm/timer-wheel.js';
import type { Envelope } from '../transport/types.js';
import type { AnycastCounters } from './metrics.js';
import { PendingQuery, type QueryOwner } from './pending.js';
import { decodeAnswer, encodeQuery, MSG_QUERY, VERDICT_HAVE, VERDICT_PENDING } from './wire.js';

export type QueryResult = 'have' | 'none' | 'timeout';

export interface QueryBookDeps {
  bus: Bus;
  wheel: TimerWheel;
  counters: AnycastCounters;
  /** anycast.query_timeout, ms. */
  timeoutMs: number;
  /** Receiver mode: nodes asking about the same message at once are contenders. */
  receiverMode: boolean;
  decide(p: PendingQuery, result: QueryResult): void;
}

export class QueryBook implements QueryOwner {
  private readonly byQid = new Map<number, PendingQuery>();
  private readonly byKey = new Map<string, PendingQuery>();
  private qseq = 0;

  constructor(private readonly d: QueryBookDeps) {}

  /** Queries waiting for answers (0 when idle: the simulator's leak check). */
  get size(): number {
    return this.byQid.size;
  }

  /** The query out for this key, if any. */
  waiting(key: string): PendingQuery | undefined {
    return this.byKey.get(key);
  }

  ask(nodes: readonly number[], req: SipMessage, env: Envelope, key: string, lookup: string[], fallback: number): void {
    const qid = (this.qseq = (this.qseq + 1) >>> 0);
    const p = new PendingQuery(this, qid, key, req, env, fallback);
    const payload = encodeQuery(qid, lookup);
    for (const n of nodes) {
      if (this.d.bus.send(n, 'anycast', MSG_QUERY, payload)) {
        p.awaiting.push(n);
        this.d.counters.sent('query');
      }
    }
    if (p.awaiting.length === 0) {
      this.d.decide(p, 'none');
      return;
    }
    this.byQid.set(qid, p);
    this.byKey.set(key, p);
    p.timer = this.d.wheel.schedule(this.d.timeoutMs, p, 0);
  }

  finish(p: PendingQuery, timedOut: boolean): void {
    if (this.byQid.get(p.qid) !== p) return;
    this.byQid.delete(p.qid);
    if (this.byKey.get(p.key) === p) this.byKey.delete(p.key);
    if (p.timer !== undefined) this.d.wheel.cancel(p.timer);
    p.timer = undefined;
    this.d.decide(p, timedOut ? 'timeout' : p.holder !== 0 ? 'have' : 'none');
  }

  onAnswer(src: number, payload: Uint8Array): void {
    const a = decodeAnswer(payload);
    if (a === null) {
      this.d.counters.drop('bad_bus_payload');
      return;
    }
    const p = this.byQid.get(a.qid);
    if (p === undefined || !p.answered(src)) return; // late (after a timeout) or not asked
    if (a.verdict === VERDICT_HAVE) {
      if (p.holder === 0 || src < p.holder) p.holder = src;
      this.finish(p, false); // only one node can hold it: no need to wait for the rest
      return;
    }
    if (a.verdict === VERDICT_PENDING && this.d.receiverMode) p.addContender(src);
    if (p.awaiting.length === 0) this.finish(p, false);
  }
}
