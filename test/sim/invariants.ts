// The invariants the simulator checks as a run goes and at its end (README
// section "Invariants"). Each failure is reported through world.violation().

import type { SipMessage } from '../../src/sip/message.js';
import { serverKey } from '../../src/tm/matching.js';
import type { TimerWheel } from '../../src/tm/timer-wheel.js';
import type { Call } from './call.js';
import type { Expectation } from './location-plan.js';
import type { Excuses } from './excuses.js';
import type { Phone } from './phone.js';
import { describe, type Runtime } from './sim-node.js';

export interface InvariantWorld {
  readonly runtimes: ReadonlyMap<number, Runtime>;
  readonly phones: readonly Phone[];
  readonly wheel: TimerWheel;
  readonly t1: number;
  /** Kill times per node. */
  readonly kills: ReadonlyMap<number, number[]>;
  readonly excuses: Excuses;
  violation(text: string): void;
}

export class Invariants {
  /** UAS-side record of each request: originator's branch -> the proxy branch it came with. */
  private readonly seen = new Map<string, string>();

  constructor(private readonly w: InvariantWorld) {}

  /** A phone never gets the same request under two proxy branches (one client transaction per request). */
  sawRequest(phone: Phone, req: SipMessage): void {
    const vias = req.vias;
    if (vias.length < 2) return;
    const origin = vias[vias.length - 1]!.branch ?? '';
    const key = `${req.callId} ${req.cseq.seq} ${req.method} ${origin}`;
    const branch = vias[0]!.branch ?? '';
    const first = this.seen.get(key);
    if (first === undefined) {
      this.seen.set(key, branch);
      return;
    }
    if (first === branch) return;
    // Excused only when a node died holding one of the call's transactions (the first fork's, say).
    if (this.w.excuses.exposed(req.callId)) return this.w.excuses.waive(req.callId, 'doubleFork');
    const firstNode = this.branchNode(first);
    this.w.violation(`${phone.address} got ${req.method} ${req.callId} cseq ${req.cseq.seq} under two branches (${first} from node ${firstNode}, then ${branch} from node ${this.branchNode(branch)})`);
  }

  private branchNode(branch: string): number {
    for (const rt of this.w.runtimes.values()) {
      const d = rt.node.tm?.decodeBranch(branch);
      if (d) return d.nodeId;
    }
    return 0;
  }

  /**
   * A request goes to the transaction layer of the node that holds its transaction (every CANCEL and
   * non-2xx ACK reaches the owner of its INVITE; a retransmission reaches its transaction).
   */
  checkLocal(rt: Runtime, msg: SipMessage): void {
    if (!msg.isRequest) return;
    let keys: string[];
    try {
      const m = msg.method;
      keys = m === 'ACK' ? [serverKey(msg, 'INVITE')] : m === 'CANCEL' ? [serverKey(msg, 'CANCEL'), serverKey(msg, 'INVITE')] : [serverKey(msg, m)];
    } catch {
      return;
    }
    for (const k of keys) if (rt.node.tm.hasServerKey(k)) return;
    for (const other of this.w.runtimes.values()) {
      if (other === rt || !other.alive) continue;
      for (const k of keys) {
        if (other.node.tm.hasServerKey(k)) {
          this.w.violation(`${describe(msg)} reached node ${rt.id} but its transaction is on node ${other.id}`);
          return;
        }
      }
    }
  }

  /** A finished call ended as planned, unless a node died holding one of its transactions (then any RFC outcome is fine). */
  callEnded(call: Call, lookup?: Expectation): void {
    if (this.faultedDuring(call.startedAt, call.doneAt)) this.w.excuses.broadly();
    // A location call whose lookup raced a write (location-plan.ts) may have found the user or not.
    if (lookup === 'racing') return;
    const problem = lookup === 'notFound' ? notFound(call) : expected(call);
    if (problem && this.w.excuses.exposed(call.callId)) return this.w.excuses.waive(call.callId, 'outcome');
    if (problem) {
      this.w.violation(`call ${call.callId} (${call.plan.kind}) ended wrongly: ${problem}\n    caller: ${call.caller.trace.join(' | ')}\n    callee: ${call.callee.trace.join(' | ')}`);
    }
  }

  /** The old, broad excuse: a kill of any node from 64*T1 before the call to its end (now only measured). */
  private faultedDuring(t0: number, t1: number): boolean {
    for (const times of this.w.kills.values()) for (const t of times) if (t >= t0 - 64 * this.w.t1 && t <= t1) return true;
    return false;
  }

  /** Once everything is over, no transaction, timer or query is left anywhere. */
  checkLeaks(): void {
    for (const rt of this.w.runtimes.values()) {
      if (!rt.alive) continue;
      const s = rt.node.tm.stats();
      const q = rt.node.anycast?.gate.pendingQueries ?? 0;
      if (s.serverTransactions || s.clientTransactions || s.timers || rt.node.wheel.size || q) {
        this.w.violation(
          `node ${rt.id} still holds ${s.serverTransactions} server / ${s.clientTransactions} client transactions, ${s.timers} tm timers, ${rt.node.wheel.size} wheel timers, ${q} queries after every call ended`,
        );
      }
    }
    let left = 0;
    const who: string[] = [];
    for (const p of this.w.phones) {
      const s = p.tm.stats();
      const n = s.serverTransactions + s.clientTransactions;
      left += n;
      if (n > 0 && who.length < 3) who.push(`${p.address} (${s.serverTransactions} server, ${s.clientTransactions} client): ${p.trace.join(' | ')}`);
    }
    if (left > 0 || this.w.wheel.size > 0) {
      this.w.violation(`phones still hold ${left} transactions / ${this.w.wheel.size} timers after every call ended\n    ${who.join('\n    ')}`);
    }
  }
}

/** A call to a user the cluster holds no binding of: 404, and the user's phone never rings. */
function notFound(c: Call): string | undefined {
  if (c.callerFinal === 404 && !c.calleeGotRequest) return undefined;
  return `a call to ${c.callee.uri}, which has no live binding, got ${c.callerFinal}${c.calleeGotRequest ? ' and reached it' : ''}`;
}

/** What a call must have ended with when no node died under it; undefined when it did. */
function expected(c: Call): string | undefined {
  const k = c.plan.kind;
  if (c.ackTimeout) return 'the callee never got the ACK for its 2xx';
  if (c.reinviteStatus !== 0 && ![200, 481, 487].includes(c.reinviteStatus)) return `re-INVITE got ${c.reinviteStatus}`;
  const byeOk = c.byeStatus === 200;
  switch (k) {
    case 'register':
      return c.callerFinal === 200 ? undefined : `REGISTER got ${c.callerFinal}`;
    case 'options':
      return c.callerFinal === 200 && c.calleeFinal === 200 ? undefined : `OPTIONS got ${c.callerFinal} (callee sent ${c.calleeFinal})`;
    case 'busy':
      return c.callerFinal === 486 && c.calleeFinal === 486 ? undefined : `INVITE got ${c.callerFinal} (callee sent ${c.calleeFinal})`;
    case 'answer':
      return c.callerFinal === 200 && c.calleeFinal === 200 && byeOk ? undefined : `INVITE got ${c.callerFinal} (callee sent ${c.calleeFinal}), BYE got ${c.byeStatus}`;
    case 'cancel':
      if (c.callerFinal === 487 && c.calleeFinal === 487) return undefined;
      if (c.callerFinal === 200 && c.calleeFinal === 200 && byeOk) return undefined;
      return `cancelled INVITE got ${c.callerFinal} (callee sent ${c.calleeFinal}), BYE got ${c.byeStatus}`;
  }
}
