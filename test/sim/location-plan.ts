// The location plan (`--plan location`): users REGISTER through the anycast address (so through
// random nodes, each REGISTER its own Call-ID), some for a short time, some unregister (Expires: 0),
// and other phones call them through the anycast address. Each user is one address; every call
// to it gets a phone of its own there (the address dispatches by Call-ID), so calls may overlap.
//
// The oracle is the cluster's write history: every binding a node's registrar writes or removes,
// at the virtual time it does (a REGISTER is answered in the same turn). From it, a lookup on any
// node at time t must return the user's binding exactly when the last write older than SETTLED_MS
// set it and it has not expired (expiresAt > t, the same absolute time everywhere); a write
// within SETTLED_MS of the lookup may not have reached that node yet (bus 0.1..0.6 ms), and such a
// lookup is counted as racing a write, not checked. Checked: every lookup a call makes (the
// proxy's registrar lookup on the node that routes the INVITE), every user on every synced node
// at each quiet point, and each REGISTER's 200 at the phone (the write it asked for was made).
// A call whose first lookup found the user must end as planned; one whose first lookup found
// nothing must get 404 and never reach the user.

import type { Binding } from '../../src/location/binding.js';
import type { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import type { Envelope } from '../../src/transport/types.js';
import { serverKey } from '../../src/tm/matching.js';
import { SETTLED_MS } from './location-checks.js';
import type { Host } from './network.js';
import type { Phone } from './phone.js';
import type { Runtime } from './sim-node.js';

export const LOCATION_DOMAIN = 'loc.sim';

export interface LocationPlanWorld {
  readonly runtimes: ReadonlyMap<number, Runtime>;
  now(): number;
  violation(text: string): void;
}

interface Write {
  t: number;
  node: number;
  set: boolean;
  expiresAt: number;
  callId: string;
}

export type Expectation = 'found' | 'notFound' | 'racing';

export interface LocationPlanStats {
  users: number;
  registers: number;
  unregisters: number;
  /** Registrar writes seen (puts and removals), on every node. */
  writes: number;
  /** Lookups of calls checked against the oracle, and those that raced a write (not checked). */
  lookups: number;
  lookupsRacing: number;
  /** Calls by what their first lookup found. */
  callsFound: number;
  callsNotFound: number;
  /** The calls that found none, by why: never registered, unregistered, expired. */
  notFoundBy: { never: number; removed: number; expired: number };
  callsRacing: number;
  /** User x node lookups checked at quiet points. */
  sweeps: number;
}

/** One user's address: datagrams go to the phone of their Call-ID. */
class UserHost implements Host {
  readonly phones = new Map<string, Phone>();
  constructor(
    private readonly plan: LocationPlan,
    readonly aor: string,
  ) {}
  receive(data: Buffer, env: Envelope): void {
    let msg: SipMessage;
    let callId: string;
    try {
      msg = parseMessage(data);
      callId = msg.callId;
    } catch (err) {
      this.plan.w.violation(`user ${this.aor} got an unparseable message: ${(err as Error).message}`);
      return;
    }
    const phone = this.phones.get(callId);
    if (phone === undefined) {
      this.plan.w.violation(`user ${this.aor} got ${msg.isRequest ? msg.method : msg.status} of call ${callId}, which is not to or from it`);
      return;
    }
    phone.deliver(msg, env);
  }
}

export class LocationPlan {
  readonly users: UserHost[] = [];
  private readonly writes = new Map<string, Write[]>();
  /** Users with a REGISTER in flight (a phone does not overlap its own REGISTERs). */
  private readonly busy = new Set<number>();
  /** Call-ID -> what the call's first lookup found. */
  private readonly expectations = new Map<string, Expectation>();
  private readonly aorOfCall = new Map<string, string>();
  /** The Call-ID of the last INVITE a tm was handed: the call a lookup in the same turn routes. */
  private lastHanded = '';
  private reported = 0;
  readonly stats: LocationPlanStats;

  constructor(
    readonly w: LocationPlanWorld,
    userCount: number,
  ) {
    for (let k = 0; k < userCount; k++) this.users.push(new UserHost(this, `sip:user${k}@${LOCATION_DOMAIN}`));
    this.stats = { users: userCount, registers: 0, unregisters: 0, writes: 0, lookups: 0, lookupsRacing: 0, callsFound: 0, callsNotFound: 0, notFoundBy: { never: 0, removed: 0, expired: 0 }, callsRacing: 0, sweeps: 0 };
  }

  /** User k's address (10.200.x.y: apart from the mixed plan's callers and callees). */
  static address(k: number): string {
    return `10.200.${k >> 8}.${k & 255}`;
  }

  static contact(k: number): string {
    return `sip:${LocationPlan.address(k)}:5060`;
  }

  isBusy(k: number): boolean {
    return this.busy.has(k);
  }

  /** A phone of user k takes part in call `callId` (its REGISTER, or a call to it). */
  attach(k: number, callId: string, phone: Phone): void {
    this.users[k]!.phones.set(callId, phone);
    this.aorOfCall.set(callId, this.users[k]!.aor);
  }

  registering(k: number, unregister: boolean): void {
    this.busy.add(k);
    if (unregister) this.stats.unregisters++;
    else this.stats.registers++;
  }

  /** User k's REGISTER ended with `status` (0: none): with a 200, the cluster holds what it asked for. */
  registered(k: number, callId: string, expires: number, status: number): void {
    this.busy.delete(k);
    if (status !== 200) return;
    const aor = this.users[k]!.aor;
    const now = this.w.now();
    const e = this.expected(aor, now);
    if (e === 'racing') return;
    const last = this.lastWrite(aor, now);
    if (expires === 0) {
      if (e.length > 0) this.violation(`${aor}: the unregister ${callId} got 200 at t=${now.toFixed(3)}, but the cluster still holds its binding (last write ${JSON.stringify(last)})`);
    } else if (e.length !== 1 || last?.callId !== callId) {
      this.violation(`${aor}: REGISTER ${callId} (expires ${expires}) got 200 at t=${now.toFixed(3)}, but the cluster's last write is ${JSON.stringify(last)}`);
    }
  }

  /** Watch node `rt`'s registrar: its writes feed the oracle, its lookups are checked against it. */
  watch(rt: Runtime): void {
    const loc = rt.node.location;
    const reg = rt.node.registrar;
    if (!loc || !reg) return;
    const put = loc.put.bind(loc);
    const remove = loc.remove.bind(loc);
    loc.put = (b: Binding) => {
      put(b);
      this.wrote(rt.id, b, true);
    };
    loc.remove = (b: Binding) => {
      remove(b);
      this.wrote(rt.id, b, false);
    };
    const lookup = reg.lookup.bind(reg);
    reg.lookup = (aor: string, now: number) => {
      const found = lookup(aor, now);
      if (aor.endsWith('@' + LOCATION_DOMAIN)) this.lookedUp(rt, aor, now, found);
      return found;
    };
  }

  /** What call `callId`'s first lookup found (undefined: no lookup yet, or not a location call). */
  expectation(callId: string): Expectation | undefined {
    return this.expectations.get(callId);
  }

  /** At a quiet point: every user's lookup on every synced node agrees with the oracle. */
  sweep(nodes: Runtime[]): void {
    const now = this.w.now();
    for (const u of this.users) {
      const e = this.expected(u.aor, now);
      if (e === 'racing') continue;
      for (const rt of nodes) {
        this.stats.sweeps++;
        const found = rt.node.location!.lookup(u.aor, now);
        const wrong = mismatch(found, e);
        if (wrong) this.violation(`node ${rt.id} at a quiet point, t=${now.toFixed(3)}: ${u.aor} ${wrong} (last write ${JSON.stringify(this.lastWrite(u.aor, now))})`);
      }
    }
  }

  private wrote(node: number, b: Binding, set: boolean): void {
    if (!b.aor.endsWith('@' + LOCATION_DOMAIN)) return;
    this.stats.writes++;
    let list = this.writes.get(b.aor);
    if (list === undefined) this.writes.set(b.aor, (list = []));
    list.push({ t: this.w.now(), node, set, expiresAt: b.expiresAt, callId: b.callId });
  }

  private lookedUp(rt: Runtime, aor: string, now: number, found: Binding[]): void {
    const e = this.expected(aor, now);
    if (e === 'racing') {
      this.stats.lookupsRacing++;
      return;
    }
    this.stats.lookups++;
    if (rt.node.locationReplica?.sync.state !== 'done' || rt.membership.holding.length > 0) {
      this.violation(`node ${rt.id} routed a call (Call-ID ${this.lastHanded}) to ${aor} at t=${now.toFixed(3)} before its location table was whole (sync ${JSON.stringify(rt.node.locationReplica?.sync)}, holding ${rt.membership.holding.join(",")}, incarnation ${rt.incarnation})`);
    }
    const wrong = mismatch(found, e);
    if (wrong) this.violation(`node ${rt.id} looked ${aor} up at t=${now.toFixed(3)}: ${wrong} (last write ${JSON.stringify(this.lastWrite(aor, now))})`);
  }

  /**
   * Node `rt`'s tm is handed `msg`. The first initial INVITE of a location call that starts a server
   * transaction is routed (looked up) in this same turn, at this virtual time: what the call must find.
   */
  handed(rt: Runtime, msg: SipMessage): void {
    if (!msg.isRequest || msg.method !== 'INVITE') return;
    let callId: string;
    try {
      if (msg.toTag !== undefined) return;
      callId = msg.callId;
      this.lastHanded = callId;
      if (this.expectations.has(callId)) return;
      const aor = this.aorOfCall.get(callId);
      if (aor === undefined || rt.node.tm.hasServerKey(serverKey(msg, 'INVITE'))) return;
      const now = this.w.now();
      const e = this.expected(aor, now);
      this.expect(callId, e === 'racing' ? 'racing' : e.length > 0 ? 'found' : 'notFound');
      if (e !== 'racing' && e.length === 0) {
        const last = this.lastWrite(aor, now);
        this.stats.notFoundBy[last === undefined ? 'never' : last.set ? 'expired' : 'removed']++;
      }
    } catch {
      return;
    }
  }

  private expect(callId: string, e: Expectation): void {
    this.expectations.set(callId, e);
    if (e === 'found') this.stats.callsFound++;
    else if (e === 'notFound') this.stats.callsNotFound++;
    else this.stats.callsRacing++;
  }

  private lastWrite(aor: string, t: number): Write | undefined {
    const list = this.writes.get(aor) ?? [];
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.t <= t - SETTLED_MS) return list[i];
    return undefined;
  }

  /** The bindings every node must return for `aor` at `t` (expiry included), or 'racing' when a write is too fresh to tell. */
  private expected(aor: string, t: number): Write[] | 'racing' {
    const list = this.writes.get(aor) ?? [];
    const last = list[list.length - 1];
    if (last !== undefined && last.t > t - SETTLED_MS) return 'racing';
    return last !== undefined && last.set && last.expiresAt > t ? [last] : [];
  }

  private violation(text: string): void {
    if (this.reported++ < 50) this.w.violation(text);
  }
}

/** How a lookup's result differs from the oracle's, or undefined. */
function mismatch(found: Binding[], expected: Write[]): string | undefined {
  if (found.length !== expected.length) {
    return `returned ${found.length} binding(s) [${found.map((b) => `${b.contact} until ${b.expiresAt}`).join(', ')}], the cluster wrote ${expected.length === 0 ? 'none live' : 'one until ' + expected[0]!.expiresAt}`;
  }
  if (expected.length === 1 && (found[0]!.expiresAt !== expected[0]!.expiresAt || found[0]!.callId !== expected[0]!.callId)) {
    return `returned the binding of ${found[0]!.callId} until ${found[0]!.expiresAt}, the last write was ${expected[0]!.callId} until ${expected[0]!.expiresAt}`;
  }
  return undefined;
}
