// The anycast gate: between ingress and the transaction layer, it answers
// "is this message mine?" for every message and sends the ones that are not
// to their owner over the bus, one hop, never more (DESIGN.md, "Contracts").
//
//   reply                 owner = node id in the top Via branch (MAC checked; bad MAC: drop)
//   request, hash mode    here if a transaction here matches; else owner = rendezvous(Call-ID, up nodes)
//   request, receiver     here if a transaction here matches; else ask every peer; whoever holds it gets it,
//                         nobody: it is new and stays here
//   membership changed    (second chance) keys whose owner moved: ask the previous owner first
//   hops = 1              always here: it was forwarded once already

import type { Bus, BusMessage, Membership } from '../cluster/types.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { SipMessage } from '../sip/message.js';
import { serverKey } from '../tm/matching.js';
import type { TimerWheel } from '../tm/timer-wheel.js';
import type { Envelope, Sender } from '../transport/types.js';
import type { AnycastCounters, ForwardKind } from './metrics.js';
import { Forwarder } from './forwarder.js';
import { HistorySync } from './history-sync.js';
import { MAX_FOLLOWERS, type PendingQuery } from './pending.js';
import { Promises } from './promises.js';
import { QueryBook, type QueryResult } from './queries.js';
import { keyHash, ownerOfHash } from './rendezvous.js';
import type { RelaySender } from './relay-sender.js';
import type { AnycastSettings, GateEvents, GateTm } from './types.js';
import { ViewHistory } from './views.js';
import {
  decodeQuery,
  encodeAnswer,
  MSG_ANSWER,
  MSG_FORWARD,
  MSG_HISTORY,
  MSG_HISTORY_REQUEST,
  MSG_QUERY,
  MSG_RELAY,
  MSG_RELAY_FAILED,
  VERDICT_HAVE,
  VERDICT_NONE,
  VERDICT_PENDING,
} from './wire.js';

export interface GateDeps {
  settings: AnycastSettings;
  bus: Bus;
  membership: Membership;
  clock: Clock;
  wheel: TimerWheel;
  counters: AnycastCounters;
  log: Logger;
  /** The node's own transport: RELAY writes go straight to it. */
  transport: Sender;
  /** The sender tm and proxy use (maps connections of other nodes). */
  relay: RelaySender;
  events?: GateEvents;
  /**
   * receiver mode: the node a new request belongs to, when a layer above knows it (src/auth: a
   * retry after a digest challenge goes to the node that issued its nonce, the only one that
   * accepts it). Every copy of the request, on whichever node, goes there: no query needed.
   */
  ownerHint?: (req: SipMessage) => number | undefined;
}

export class AnycastGate {
  readonly selfId: number;
  private tm: GateTm | undefined;
  private readonly forwarder: Forwarder;
  private readonly views: ViewHistory;
  private readonly queries: QueryBook;
  private readonly promises: Promises;
  private readonly history: HistorySync;
  private peers: number[] = [];
  private readonly scratch: number[] = [];
  /** Debug logging is decided once: the hot path must not build log records nobody reads. */
  private readonly debug: boolean;

  constructor(private readonly d: GateDeps) {
    this.selfId = d.bus.selfId;
    this.debug = d.log.debug();
    this.forwarder = new Forwarder(d, this.debug);
    this.views = new ViewHistory(d.membership.upNodes(), d.settings.second_chance);
    this.peers = this.livePeers();
    // Long enough for the slowest membership update to reach us, short next to any SIP timer.
    this.promises = new Promises(d.clock, () => Math.max(1000, 4 * d.settings.query_timeout));
    this.queries = new QueryBook({
      bus: d.bus,
      wheel: d.wheel,
      counters: d.counters,
      timeoutMs: d.settings.query_timeout,
      receiverMode: d.settings.mode === 'receiver',
      decide: (p, result) => this.decide(p, result),
    });
    this.history = new HistorySync({
      selfId: this.selfId,
      bus: d.bus,
      membership: d.membership,
      clock: d.clock,
      wheel: d.wheel,
      counters: d.counters,
      views: this.views,
      graceMs: d.settings.second_chance,
    });
    d.membership.onChange((c) => {
      // A node that went down, or is joining (a new process), holds none of the transactions promised to it.
      if (c.to === 'down' || c.to === 'joining') this.promises.nodeDown(c.node);
      this.views.update(d.membership.upNodes(), d.clock.now());
      this.peers = this.livePeers();
      this.history.ask();
    });
    d.bus.handle('anycast', (m) => this.onBus(m));
    this.history.ask();
  }

  /** Wire the layers that exist only once the node has built them. */
  attach(tm: GateTm, reinject: (data: Buffer, env: Envelope) => void): void {
    this.tm = tm;
    this.forwarder.reinject = reinject;
  }

  /** Queries waiting for answers (0 when idle: the simulator's leak check). */
  get pendingQueries(): number {
    return this.queries.size;
  }

  // ---- messages from the network (ingress.next) --------------------------------

  receive(msg: SipMessage, env: Envelope): void {
    const tm = this.tm;
    if (tm === undefined) {
      this.d.counters.drop('starting');
      return;
    }
    if (env.hops > 0) {
      this.taken(msg, env, tm);
      return;
    }
    if (msg.isRequest) this.request(msg, env, tm);
    else this.response(msg, env, tm);
  }

  private response(res: SipMessage, env: Envelope, tm: GateTm): void {
    let branch: string | undefined;
    try {
      branch = res.topVia.branch;
    } catch {
      this.local(res, env, tm); // tm counts what it cannot classify
      return;
    }
    const b = tm.decodeBranch(branch);
    // Not ours (another vendor's branch), stateless (any node relays it), or our own.
    if (b === null || b.stateless || b.nodeId === this.selfId) {
      this.local(res, env, tm);
      return;
    }
    if (!b.valid) {
      this.d.counters.drop('bad_mac'); // forged or another cluster's: never on the bus
      return;
    }
    this.forwarder.forward(b.nodeId, res, env, false);
  }

  private request(req: SipMessage, env: Envelope, tm: GateTm): void {
    const method = req.method;
    let key: string;
    let lookup: string[];
    let hash: number;
    try {
      if (method === 'ACK') {
        key = serverKey(req, 'ACK');
        lookup = [key, serverKey(req, 'INVITE')];
      } else if (method === 'CANCEL') {
        key = serverKey(req, 'CANCEL');
        lookup = [key, serverKey(req, 'INVITE')];
      } else {
        key = serverKey(req, method);
        lookup = [key];
      }
      hash = keyHash(req.callId);
    } catch {
      this.local(req, env, tm); // broken Via / CSeq / Call-ID: tm counts and drops it
      return;
    }
    for (let i = 0; i < lookup.length; i++) {
      if (tm.hasServerKey(lookup[i]!)) {
        this.local(req, env, tm);
        return;
      }
    }
    // A query is out for this very message or the INVITE it belongs to: wait behind it.
    for (let i = 0; i < lookup.length; i++) {
      const p = this.queries.waiting(lookup[i]!);
      if (p !== undefined) {
        if (p.followers.length < MAX_FOLLOWERS) p.followers.push([req, env]);
        else this.d.counters.drop('query_backlog');
        return;
      }
    }
    // We told another node this request was not here (it took it), or sent it on ourselves: copies follow.
    const promised = this.promised(key);
    if (promised !== 0) {
      this.forwarder.forward(promised, req, env, false);
      return;
    }
    if (this.d.settings.mode === 'hash') this.hashRoute(req, env, tm, key, lookup, hash);
    else this.receiverRoute(req, env, tm, key, lookup);
  }

  private hashRoute(req: SipMessage, env: Envelope, tm: GateTm, key: string, lookup: string[], hash: number): void {
    const now = this.d.clock.now();
    const up = this.d.membership.upNodes();
    const owner = up.length > 0 ? ownerOfHash(hash, up) : this.selfId;
    if (this.views.inGrace) {
      const prev = this.views.previousOwners(hash, now, owner, this.scratch);
      const ask: number[] = [];
      for (const n of prev) if (n !== this.selfId && this.alive(n)) ask.push(n);
      if (ask.length > 0) {
        this.queries.ask(ask, req, env, key, lookup, owner);
        return;
      }
    }
    if (owner === this.selfId) this.local(req, env, tm);
    else this.forwarder.forward(owner, req, env, false);
  }

  private receiverRoute(req: SipMessage, env: Envelope, tm: GateTm, key: string, lookup: string[]): void {
    const hint = this.d.ownerHint?.(req);
    if (hint !== undefined && hint !== this.selfId && this.alive(hint)) {
      this.promise(key, hint, 2);
      this.forwarder.forward(hint, req, env, false);
      return;
    }
    if (hint === this.selfId || this.peers.length === 0) this.local(req, env, tm);
    else this.queries.ask(this.peers, req, env, key, lookup, this.selfId);
  }

  // ---- ownership queries ---------------------------------------------------------

  private decide(p: PendingQuery, result: QueryResult): void {
    this.d.counters.query(result);
    if (this.debug) this.d.log.debug({ key: p.key, result, holder: p.holder, contenders: p.contenders }, 'anycast: query done');
    const tm = this.tm!;
    let dst: number;
    if (p.holder !== 0) {
      dst = p.holder;
    } else if (this.d.settings.mode === 'receiver') {
      // Several nodes got the same new request at once: the lowest id takes it, the others send theirs there.
      dst = this.selfId;
      for (const c of p.contenders) if (c < dst && this.alive(c)) dst = c;
    } else {
      dst = p.fallback;
    }
    const second = p.holder !== 0 && this.d.settings.mode === 'hash';
    // Copies that reach us later go the same way; a forwarded copy is dropped here (taken()).
    // Kept twice as long as the answerers' promises: a copy they send us must still find it here.
    if (dst !== this.selfId) this.promise(p.key, dst, 2);
    if (dst === this.selfId) this.local(p.msg, p.env, tm);
    else this.forwarder.forward(dst, p.msg, p.env, second);
    for (const [msg, env] of p.followers) {
      if (dst === this.selfId) this.receive(msg, env);
      else if (env.hops === 0) this.forwarder.forward(dst, msg, env, second);
      else this.d.counters.drop('duplicate_elsewhere'); // a copy sent to us while we asked: the original went on
    }
  }

  private onQuery(src: number, payload: Uint8Array): void {
    const q = decodeQuery(payload);
    const tm = this.tm;
    if (q === null || tm === undefined) {
      this.d.counters.drop(q === null ? 'bad_bus_payload' : 'starting');
      return;
    }
    let verdict = VERDICT_NONE;
    for (const k of q.keys) {
      if (tm.hasServerKey(k)) {
        verdict = VERDICT_HAVE;
        break;
      }
    }
    if (verdict === VERDICT_NONE) {
      const mine = this.queries.waiting(q.keys[0]!);
      if (mine !== undefined) {
        verdict = VERDICT_PENDING;
        if (this.d.settings.mode === 'receiver') mine.addContender(src);
      } else {
        // We said "not here": the asker decides where it goes. If our view is behind and a copy of the
        // same request reaches us next, it must follow rather than start a second transaction here.
        this.promise(q.keys[0]!, src);
      }
    }
    if (this.d.bus.send(src, 'anycast', MSG_ANSWER, encodeAnswer(q.qid, verdict))) this.d.counters.sent('answer');
  }

  private promised(key: string, anyState = false): number {
    return this.promises.target(key, this.isAlive, anyState);
  }

  private promise(key: string, target: number, factor = 1): void {
    this.promises.add(key, target, factor);
  }

  // ---- the bus -------------------------------------------------------------------

  private onBus(m: BusMessage): void {
    switch (m.type) {
      case MSG_FORWARD:
        return this.forwarder.onForward(m.src, m.payload);
      case MSG_QUERY:
        return this.onQuery(m.src, m.payload);
      case MSG_ANSWER:
        return this.queries.onAnswer(m.src, m.payload);
      case MSG_RELAY:
        return this.forwarder.onRelay(m.src, m.payload);
      case MSG_RELAY_FAILED:
        return this.forwarder.onRelayFailed(m.src, m.payload);
      case MSG_HISTORY_REQUEST:
        return this.history.onRequest(m.src);
      case MSG_HISTORY:
        return this.history.onHistory(m.payload);
      default:
        this.d.counters.drop('bad_bus_payload');
    }
  }

  // ---- here ----------------------------------------------------------------------

  /** A message another node forwarded: count what it was, then process it as if it had arrived here. */
  private taken(msg: SipMessage, env: Envelope, tm: GateTm): void {
    let kind: ForwardKind = 'reply';
    if (msg.isRequest) {
      const method = msg.method;
      let known = false;
      try {
        const key = serverKey(msg, method);
        const invite = method === 'ACK' || method === 'CANCEL' ? serverKey(msg, 'INVITE') : undefined;
        known = tm.hasServerKey(key) || (invite !== undefined && tm.hasServerKey(invite));
        if (!known) {
          // We are asking the cluster about this very request (a copy of it reached us first): wait.
          const p = this.queries.waiting(key) ?? (invite !== undefined ? this.queries.waiting(invite) : undefined);
          if (p !== undefined) {
            if (p.followers.length < MAX_FOLLOWERS) p.followers.push([msg, env]);
            else this.d.counters.drop('query_backlog');
            return;
          }
          // A copy of a request that we sent on to another node: starting it here too would fork it
          // twice. A duplicate, dropped; the sender retransmits if need be.
          if (this.promised(key, true) !== 0) {
            this.d.counters.drop('duplicate_elsewhere');
            return;
          }
        }
      } catch {
        // tm will count it
      }
      kind = method === 'CANCEL' ? 'cancel' : method === 'ACK' ? 'ack' : known ? 'retransmission' : 'initial';
    }
    this.d.counters.forwarded(kind);
    this.d.counters.latency((this.d.clock.now() - env.receivedAt) / 1000);
    this.local(msg, env, tm);
  }

  private local(msg: SipMessage, env: Envelope, tm: GateTm): void {
    this.d.events?.onLocal?.(msg, env);
    tm.receive(msg, env);
  }

  private alive(node: number): boolean {
    const s = this.d.membership.state(node);
    return s !== undefined && s !== 'down';
  }

  private readonly isAlive = (node: number): boolean => this.alive(node);

  /** Nodes that may hold transactions: up or draining, not us. */
  private livePeers(): number[] {
    const out: number[] = [];
    for (const m of this.d.membership.members()) {
      if (m.id !== this.selfId && (m.state === 'up' || m.state === 'draining')) out.push(m.id);
    }
    return out.sort((a, b) => a - b);
  }
}
