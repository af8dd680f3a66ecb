// One ownership query in flight: the message waits here (with any later
// message that depends on it) until the asked nodes answer or time runs out.

import type { SipMessage } from '../sip/message.js';
import type { TimerHandle, TimerTarget } from '../tm/timer-wheel.js';
import type { Envelope } from '../transport/types.js';

export interface QueryOwner {
  finish(p: PendingQuery, timedOut: boolean): void;
}

/** Messages that may wait behind one query (retransmissions, a CANCEL for a pending INVITE). */
export const MAX_FOLLOWERS = 8;

export class PendingQuery implements TimerTarget {
  /** Nodes asked and not yet answered. */
  readonly awaiting: number[] = [];
  /** Lowest node that said it holds the transaction (0: none). */
  holder = 0;
  /** Nodes asking about the same message at the same time (receiver-mode tie-break). */
  readonly contenders: number[] = [];
  /** Messages queued behind this one, as [msg, env] pairs. */
  readonly followers: Array<[SipMessage, Envelope]> = [];
  timer: TimerHandle | undefined;

  constructor(
    private readonly owner: QueryOwner,
    readonly qid: number,
    /** serverKey of the message with its own method. */
    readonly key: string,
    readonly msg: SipMessage,
    readonly env: Envelope,
    /** Where the message goes when nobody holds it (this node's id: here). */
    readonly fallback: number,
  ) {}

  onTimer(): void {
    this.timer = undefined;
    this.owner.finish(this, true);
  }

  /** Record an answer; true when the query is complete. */
  answered(src: number): boolean {
    const i = this.awaiting.indexOf(src);
    if (i < 0) return false;
    this.awaiting.splice(i, 1);
    return true;
  }

  addContender(node: number): void {
    if (!this.contenders.includes(node)) this.contenders.push(node);
  }
}
