// The transaction layer: matches incoming messages to transactions, creates them, owns their tables.

import type { Clock } from '../core/clock.js';
import type { SipMessage } from '../sip/message.js';
import { buildLocalResponse, ToTagKey } from '../sip/local-response.js';
import { buildCancel } from '../sip/response.js';
import type { Destination, Envelope, Sender, SocketSpec, TransportName } from '../transport/types.js';
import { BranchCodec, hasMagicCookie, type DecodedBranch } from './branch.js';
import type { ClientBase } from './client-base.js';
import { InviteClientTransaction } from './client-invite.js';
import { NonInviteClientTransaction } from './client-non-invite.js';
import { newCounters, type ResolvedTimers, type TmCounters, type TmDropReason, type TmEvents, type TxnContext } from './context.js';
import { clientKey, isRfc2543Key, serverKey } from './matching.js';
import { responseDestination } from './response-route.js';
import type { ServerBase } from './server-base.js';
import { InviteServerTransaction } from './server-invite.js';
import { NonInviteServerTransaction } from './server-non-invite.js';
import { DEFAULT_TIMER_D } from './timer-kinds.js';
import type { TimerWheel } from './timer-wheel.js';
import type { ClientHandler, ClientTransaction, ServerTransaction, TimerSettings, TransactionUser } from './types.js';

export interface TransactionLayerOptions {
  nodeId: number;
  branchSecret: string | Buffer;
  timers: TimerSettings;
  clock: Clock;
  wheel: TimerWheel;
  sender: Sender;
  user: TransactionUser;
  events?: TmEvents;
}

export interface RequestOptions {
  /** Loop-detection segment for the branch (computeLoopHash of the request as received). */
  loop?: string;
}

export interface TmStats {
  serverTransactions: number;
  clientTransactions: number;
  /** Timers armed by this layer's transactions. */
  timers: number;
  counters: Readonly<TmCounters>;
}

const VIA_TOKEN: Record<TransportName, string> = { udp: 'UDP', tcp: 'TCP', ws: 'WS' };

/** The CANCEL client transactions we start ourselves: responses to a CANCEL are of no interest (16.10). */
const IGNORE: ClientHandler = { onResponse() {} };

export class TransactionLayer implements TxnContext {
  readonly timers: ResolvedTimers;
  readonly wheel: TimerWheel;
  readonly sender: Sender;
  readonly user: TransactionUser;
  readonly clock: Clock;
  readonly counters: TmCounters = newCounters();
  readonly events: TmEvents | undefined;
  readonly codec: BranchCodec;
  private readonly toTags: ToTagKey;
  armed = 0;
  private readonly servers = new Map<string, ServerBase>();
  private readonly clients = new Map<string, ClientBase>();

  constructor(opts: TransactionLayerOptions) {
    const t = opts.timers;
    this.timers = {
      t1: t.t1,
      t2: t.t2,
      t4: t.t4,
      timerC: t.timerC,
      timerD: t.timerD ?? DEFAULT_TIMER_D,
      t64: 64 * t.t1,
    };
    this.wheel = opts.wheel;
    this.sender = opts.sender;
    this.user = opts.user;
    this.clock = opts.clock;
    this.events = opts.events;
    this.codec = new BranchCodec(opts.branchSecret, opts.nodeId);
    this.toTags = new ToTagKey(opts.branchSecret);
  }

  get nodeId(): number {
    return this.codec.nodeId;
  }

  // ---- incoming ------------------------------------------------------------

  /** Entry for every parsed message. Never throws on bad input: unclassifiable messages are dropped (events.onDrop). */
  receive(msg: SipMessage, env: Envelope): void {
    if (msg.isRequest) this.receiveRequest(msg, env);
    else this.receiveResponse(msg, env);
  }

  private receiveRequest(req: SipMessage, env: Envelope): void {
    const method = req.method;
    let key: string;
    let inviteKey: string | undefined;
    try {
      key = serverKey(req, method === 'ACK' ? 'INVITE' : method);
      if (method === 'CANCEL') inviteKey = serverKey(req, 'INVITE');
      if (isRfc2543Key(key)) void req.toTag; // parse now so the matching below cannot throw
    } catch {
      this.drop('unmatchable_request'); // top Via, CSeq, Call-ID or a tag unreadable: no key to match on
      return;
    }

    if (method === 'ACK') {
      const st = this.servers.get(key);
      if (st instanceof InviteServerTransaction && (!isRfc2543Key(key) || req.toTag === st.finalToTag)) {
        st.onAck(req, env);
      } else {
        this.user.onRequest(req, env, undefined); // ACK for a 2xx, or stray
      }
      return;
    }

    const existing = this.servers.get(key);
    if (existing !== undefined && (!isRfc2543Key(key) || sameToTag(existing.request, req))) {
      existing.onRetransmission();
      return;
    }

    const st: ServerBase =
      method === 'INVITE'
        ? new InviteServerTransaction(this, key, req, env)
        : new NonInviteServerTransaction(this, key, req, env);
    this.servers.set(key, st);
    this.counters.serverCreated++;

    if (inviteKey !== undefined) {
      const inv = this.servers.get(inviteKey);
      const invite =
        inv instanceof InviteServerTransaction && (!isRfc2543Key(inviteKey) || sameToTag(inv.request, req)) ? inv : undefined;
      this.user.onCancel(st, invite);
    } else {
      this.user.onRequest(req, env, st);
    }
  }

  private receiveResponse(res: SipMessage, env: Envelope): void {
    let key: string | undefined;
    try {
      const branch = res.topVia.branch;
      if (hasMagicCookie(branch)) key = clientKey(branch, res.cseq.method);
    } catch {
      this.drop('unmatchable_response'); // top Via or CSeq unreadable
      return;
    }
    const ct = key === undefined ? undefined : this.clients.get(key);
    if (ct !== undefined) {
      ct.onResponse(res, env);
    } else {
      this.counters.strayResponses++;
      this.user.onStrayResponse(res, env);
    }
  }

  // ---- outgoing ------------------------------------------------------------

  /**
   * Start a client transaction. Takes ownership of `req`: our Via (with a fresh owner-tagged branch) is
   * prepended, and the request is sent at once.
   */
  request(req: SipMessage, dest: Destination, handler: ClientHandler, opts?: RequestOptions): ClientTransaction {
    const method = req.method;
    if (method === 'ACK') throw new TypeError('ACK never starts a client transaction: use sendStateless or the INVITE transaction');
    const branch = this.codec.encode(opts);
    req.prepend('Via', this.viaValue(dest, branch));
    return this.startClient(req, dest, handler, clientKey(branch, method));
  }

  /**
   * Forward a request without a transaction (2xx ACKs, stateless relaying): our Via gets the deterministic
   * branch of RFC 3261 16.11, so a retransmission relayed by any node of the cluster carries the same branch.
   * Returns the branch used.
   */
  sendStateless(req: SipMessage, dest: Destination): string {
    const branch = this.codec.encodeStateless(statelessKey(req));
    req.prepend('Via', this.viaValue(dest, branch));
    this.sender.send(req.serialize(), dest);
    this.events?.onRequestSent?.(req.method);
    return branch;
  }

  /**
   * Relay a response statelessly (RFC 3261 16.11 / 18.2.2): to where its (new) top Via says.
   * False when that Via gives no destination: dropped and counted, so the caller does not count it sent.
   */
  sendResponseStateless(res: SipMessage): boolean {
    let dest: Destination;
    try {
      dest = responseDestination(res.topVia);
    } catch {
      this.drop('unroutable_response');
      return false;
    }
    this.sender.send(res.serialize(), dest);
    return true;
  }

  // ---- introspection ---------------------------------------------------------

  stats(): TmStats {
    return {
      serverTransactions: this.servers.size,
      clientTransactions: this.clients.size,
      timers: this.armed,
      counters: this.counters,
    };
  }

  /** True when `branch` is a valid stateful branch of this node. */
  ownsBranch(branch: string | undefined): boolean {
    return this.codec.owns(branch);
  }

  /** Owner tag of any branch (null: not an anysip branch). */
  decodeBranch(branch: string | undefined): DecodedBranch | null {
    return this.codec.decode(branch);
  }

  /** The INVITE server transaction a CANCEL (or ACK) would match, if any. */
  findInviteServer(req: SipMessage): ServerTransaction | undefined {
    try {
      const st = this.servers.get(serverKey(req, 'INVITE'));
      return st instanceof InviteServerTransaction ? st : undefined;
    } catch {
      return undefined;
    }
  }

  /** A server transaction exists under this key (matching.ts serverKey): the anycast gate's "is it here?". */
  hasServerKey(key: string): boolean {
    return this.servers.has(key);
  }

  /** Client transaction by branch and method (17.1.3). */
  findClient(branch: string, method: string): ClientTransaction | undefined {
    return this.clients.get(clientKey(branch, method));
  }

  // ---- TxnContext ------------------------------------------------------------

  dropServer(id: string, txn: object): void {
    if (this.servers.get(id) === txn) this.servers.delete(id);
  }

  dropClient(id: string, txn: object): void {
    if (this.clients.get(id) === txn) this.clients.delete(id);
  }

  sendCancel(invite: ClientTransaction, reason: string | undefined): void {
    const cancel = buildCancel(invite.request);
    if (reason !== undefined) cancel.append('Reason', reason);
    const branch = invite.request.topVia.branch!;
    const key = clientKey(branch, 'CANCEL');
    if (this.clients.has(key)) return;
    this.startClient(cancel, invite.destination, IGNORE, key);
  }

  localResponse(req: SipMessage, status: number): SipMessage {
    return buildLocalResponse(req, status, this.toTags);
  }

  // ---- internals ---------------------------------------------------------------

  private startClient(req: SipMessage, dest: Destination, handler: ClientHandler, key: string): ClientBase {
    const ct: ClientBase =
      req.method === 'INVITE'
        ? new InviteClientTransaction(this, key, req, dest, handler)
        : new NonInviteClientTransaction(this, key, req, dest, handler);
    this.clients.set(key, ct);
    this.counters.clientCreated++;
    ct.start();
    // Here rather than in the proxy, so the CANCELs tm starts itself are counted like relayed requests.
    this.events?.onRequestSent?.(req.method);
    return ct;
  }

  private drop(reason: TmDropReason): void {
    this.events?.onDrop?.(reason);
  }

  private viaValue(dest: Destination, branch: string): string {
    const sock: SocketSpec = this.sender.socketFor(dest);
    let host = sock.advertise ?? sock.address;
    if (host.includes(':') && host.charCodeAt(0) !== 91) host = '[' + host + ']';
    return 'SIP/2.0/' + VIA_TOKEN[dest.transport] + ' ' + host + ':' + sock.port + ';branch=' + branch;
  }
}

function sameToTag(a: SipMessage, b: SipMessage): boolean {
  return a.toTag === b.toTag;
}

/** Input of the stateless branch: the incoming top Via branch when RFC 3261, else the 2543 identity of the request. */
function statelessKey(req: SipMessage): string {
  const via = req.vias[0];
  if (via !== undefined && hasMagicCookie(via.branch)) return via.branch;
  const viaText = via === undefined ? '' : via.transport + ' ' + via.host + ':' + (via.port ?? '') + ';' + (via.branch ?? '');
  return req.uri + '\x01' + (req.fromTag ?? '') + '\x01' + req.callId + '\x01' + req.cseq.seq + '\x01' + viaText;
}
