// A node that starts knows nothing of the membership views before it, yet keys
// that moved then are in play too (second chance): it asks a peer for the view
// history, another peer on each try (the first may not count us as alive yet,
// and then its answer is lost), every HISTORY_RETRY_MS until one answers.

import type { Bus, Membership } from '../cluster/types.js';
import type { Clock } from '../core/clock.js';
import type { TimerHandle, TimerTarget, TimerWheel } from '../tm/timer-wheel.js';
import type { AnycastCounters } from './metrics.js';
import type { ViewHistory } from './views.js';
import { decodeHistory, encodeHistory, encodeHistoryRequest, MSG_HISTORY, MSG_HISTORY_REQUEST } from './wire.js';

const HISTORY_RETRY_MS = 200;
const HISTORY_TRIES = 10;

export interface HistorySyncDeps {
  selfId: number;
  bus: Bus;
  membership: Membership;
  clock: Clock;
  wheel: TimerWheel;
  counters: AnycastCounters;
  views: ViewHistory;
  /** Grace period of past views (anycast.second_chance); 0 turns history off. */
  graceMs: number;
}

export class HistorySync implements TimerTarget {
  private done = false;
  private tries = 0;
  private timer: TimerHandle | undefined;

  constructor(private readonly d: HistorySyncDeps) {}

  /** Ask a peer, unless answered already, waiting for a retry, out of tries or alone. */
  ask(): void {
    if (this.done || this.timer !== undefined || this.d.graceMs <= 0) return;
    if (this.tries >= HISTORY_TRIES) return;
    const peers = this.d.membership.upNodes().filter((n) => n !== this.d.selfId);
    if (peers.length === 0) return; // asked again on the next membership change
    const n = peers[this.tries % peers.length]!;
    this.tries++;
    this.d.bus.send(n, 'anycast', MSG_HISTORY_REQUEST, encodeHistoryRequest());
    this.timer = this.d.wheel.schedule(HISTORY_RETRY_MS, this, 0);
  }

  onTimer(): void {
    this.timer = undefined;
    this.ask();
  }

  /** A peer asks for our history: the views still in grace, as time remaining (clocks differ). */
  onRequest(src: number): void {
    const now = this.d.clock.now();
    const list = this.d.views.export(now).map((v) => ({ remaining: v.until - now, up: v.up }));
    this.d.bus.send(src, 'anycast', MSG_HISTORY, encodeHistory(list));
  }

  onHistory(payload: Uint8Array): void {
    const h = decodeHistory(payload);
    if (h === null) {
      this.d.counters.drop('bad_bus_payload');
      return;
    }
    this.done = true;
    if (this.timer !== undefined) this.d.wheel.cancel(this.timer);
    this.timer = undefined;
    const now = this.d.clock.now();
    this.d.views.adopt(
      h.map((v) => ({ up: v.up, until: now + v.remaining })),
      now,
    );
  }
}
