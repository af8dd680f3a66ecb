// Which calls a kill excuses, and nothing more. A node that dies takes its
// transactions with it, so the calls that had one there may end any way RFC
// 3261 allows (a 408, a 482 for the second fork, a lost CANCEL). Every other
// call, even one that ran right through a kill of another node, must end as
// planned. So the simulator records, per node incarnation, every transaction
// it was handed (server side, at the gate's "local" decision) or started
// (client side, its requests on the wire), and when a node dies it asks that
// node's tm which of them were still there and still had work to do: an
// INVITE transaction that forwarded a 2xx the UAS has since seen ACKed only
// waits out its Accepted state (RFC 6026), and one that saw the ACK of its
// non-2xx only absorbs ACK retransmissions, so losing those changes nothing.

import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { serverKey } from '../../src/tm/matching.js';
import type { Runtime } from './sim-node.js';

/**
 * A run fails when more than this share of its calls had a failed check excused: every other call,
 * exposed to a kill or not, was checked in full and passed.
 */
export const MAX_EXCUSED = 0.05;

interface Held {
  callId: string;
  /** 'server': key is a serverKey; 'client': key is the branch. */
  side: 'server' | 'client';
  key: string;
  method: string;
  cseq: number;
  /** Server INVITE: the request, to look its transaction's state up by. */
  req?: SipMessage;
}

/** What the excuses need to know of a call. */
export interface CallState {
  /** Begun and not ended. */
  readonly live: boolean;
  /** The UAS of the INVITE with this CSeq got the ACK for its 2xx. */
  acked(cseq: number): boolean;
}

export interface ExcuseReport {
  /** Calls a kill took a live transaction of: any RFC outcome is fine for them. */
  exposed: number;
  /** The exposed calls, each once under the first of its transactions that died ("INVITE server proceeding"). */
  byKind: Record<string, number>;
  /** Exposed calls a check failed on, and was excused: the calls the run could not check. */
  excused: number;
  /** The excused calls by the check that failed (a call may fail both). */
  waived: { outcome: number; doubleFork: number };
  /** Calls the old rule (a kill of any node from 64*T1 before the call to its end) excused, for comparison. */
  broad: number;
}

export class Excuses {
  private readonly held = new Map<number, Held[]>();
  /** Call-ID -> why it is excused. */
  private readonly why = new Map<string, string>();
  /** Call-ID -> the checks excused on it. */
  private readonly waived = new Map<string, Set<'outcome' | 'doubleFork'>>();
  private broad = 0;

  constructor(private readonly call: (callId: string) => CallState | undefined) {}

  /** The gate handed `msg` to node `id`'s tm: a server transaction, unless an ACK (it creates none). */
  server(id: number, msg: SipMessage): void {
    if (!msg.isRequest) return;
    try {
      const m = msg.method;
      if (m === 'ACK') return;
      this.add(id, { callId: msg.callId, side: 'server', key: serverKey(msg, m), method: m, cseq: msg.cseq.seq, ...(m === 'INVITE' ? { req: msg } : {}) });
    } catch {
      // unparseable enough that no transaction was made
    }
  }

  /** Node `id` put `data` on the wire: a request there is a client transaction of its own (ACKs excepted). */
  sent(id: number, data: Buffer): void {
    if (data.subarray(0, 4).toString('latin1') === 'SIP/') return;
    try {
      const msg = parseMessage(data);
      const m = msg.method;
      const branch = msg.topVia.branch;
      if (m === 'ACK' || branch === undefined) return;
      this.add(id, { callId: msg.callId, side: 'client', key: branch, method: m, cseq: msg.cseq.seq });
    } catch {
      // not a request the node made a transaction for
    }
  }

  /** Node incarnation `rt` dies: every live call with a transaction still on it is excused. */
  died(rt: Runtime): void {
    const held = this.held.get(rt.id) ?? [];
    this.held.delete(rt.id);
    for (const h of held) {
      if (this.why.has(h.callId) || !this.holds(rt, h)) continue;
      const call = this.call(h.callId);
      if (call === undefined || !call.live) continue;
      const state = this.state(rt, h);
      if (state === 'confirmed' || (state === 'accepted' && call.acked(h.cseq))) continue;
      this.why.set(h.callId, `${h.method} ${h.side}${state === undefined ? '' : ' ' + state}`);
    }
  }

  exposed(callId: string): boolean {
    return this.why.has(callId);
  }

  /** A check failed on an exposed call: counted, not reported. */
  waive(callId: string, check: 'outcome' | 'doubleFork'): void {
    let s = this.waived.get(callId);
    if (s === undefined) this.waived.set(callId, (s = new Set()));
    s.add(check);
  }

  /** The old rule would have excused this call (counted only, to measure the difference). */
  broadly(): void {
    this.broad++;
  }

  report(): ExcuseReport {
    const byKind: Record<string, number> = {};
    for (const k of this.why.values()) byKind[k] = (byKind[k] ?? 0) + 1;
    const waived = { outcome: 0, doubleFork: 0 };
    for (const s of this.waived.values()) for (const c of s) waived[c]++;
    return { exposed: this.why.size, byKind: Object.fromEntries(Object.entries(byKind).sort()), excused: this.waived.size, waived, broad: this.broad };
  }

  /** An INVITE transaction's state (undefined for non-INVITE server ones: tm does not expose those). */
  private state(rt: Runtime, h: Held): string | undefined {
    const tm = rt.node.tm;
    if (h.side === 'client') return tm.findClient(h.key, h.method)?.state;
    return h.req !== undefined ? tm.findInviteServer(h.req)?.state : undefined;
  }

  private holds(rt: Runtime, h: Held): boolean {
    const tm = rt.node.tm;
    return h.side === 'server' ? tm.hasServerKey(h.key) : tm.findClient(h.key, h.method) !== undefined;
  }

  private add(id: number, h: Held): void {
    let list = this.held.get(id);
    if (list === undefined) this.held.set(id, (list = []));
    list.push(h);
  }

  /** Forget what node incarnation `rt` no longer holds (keeps the lists short over long runs). */
  prune(rt: Runtime): void {
    const list = this.held.get(rt.id);
    if (list !== undefined) this.held.set(rt.id, list.filter((h) => this.holds(rt, h)));
  }
}
