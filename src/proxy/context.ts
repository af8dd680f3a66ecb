// One stateful proxy context per server transaction (RFC 3261 16): the
// branches it forked, the best final response so far, and CANCEL state.
// Targets come in groups: a group is tried in parallel, groups in series
// (q-value ordering of registered contacts, or a serial route).

import type { SipMessage } from '../sip/message.js';
import { reasonPhrase, type ResponseOptions } from '../sip/response.js';
import type { ClientHandler, ClientTransaction, ServerTransaction } from '../tm/types.js';
import type { SipUri } from '../sip/types.js';
import type { Destination, Envelope } from '../transport/types.js';
import { MessageTooLargeError } from '../core/errors.js';
import { isBetter } from './best-response.js';
import { tooLargeReason } from './mtu.js';

export interface Target {
  /** New Request-URI (undefined: keep the request's own, as when following a Route). */
  uri?: string;
  /** Send to this URI's host without changing the Request-URI (Kamailio's $du): a gateway, a media server. */
  nextHop?: SipUri;
  /** Route values to put in front of the request's own (registrar Path, RFC 3327). */
  routes?: readonly string[];
  /** Send from this listen socket. */
  socketId?: string;
  /** Send to this exact destination (a contact registered over TCP/WS: its connection). */
  destination?: Destination;
  /** An RFC 5626 flow: when its connection is gone the branch ends in 430 Flow Failed (5.3), not 480. */
  flow?: boolean;
  /**
   * The other flows of the same RFC 5626 instance, best first. One flow of an instance is tried at
   * a time: when this one fails with 430, the next takes its place (5.3); any other final ends it.
   */
  alternates?: Target[];
}

/** What a context needs from the proxy around it. */
export interface ContextHost {
  /**
   * Fork one branch: the client transaction at once when the target needs no DNS lookup, else a
   * promise of it. Throws or rejects when it could not even be sent (bad target, no resolution):
   * that branch counts as a 503.
   */
  forward(ctx: ProxyContext, target: Target): ClientTransaction | Promise<ClientTransaction>;
  /** Send a response upstream through the server transaction. */
  reply(server: ServerTransaction, res: SipMessage): void;
  /** Count something the context refused to relay. */
  dropped(reason: string): void;
  /** A response of our own to `req`, with the To tag of RFC 3261 8.2.6.2 (src/sip/local-response.ts). */
  localResponse(req: SipMessage, status: number, opts?: ResponseOptions): SipMessage;
}

export class ProxyContext implements ClientHandler {
  private readonly groups: Target[][] = [];
  private groupIndex = -1;
  private readonly branches: ClientTransaction[] = [];
  /** Branches to RFC 5626 flows, with the instance's other flows to fall back on. */
  private readonly flows = new Map<ClientTransaction, Target[]>();
  private pending = 0;
  private bestStatus: number | undefined;
  private best: SipMessage | undefined;
  private bestIsLocal = false;
  private readonly challenges: Array<[string, string]> = [];
  finalSent = false;
  cancelled = false;
  /** `user@realm` that authenticated the request (src/auth), for the route hook. */
  authenticated: string | undefined;
  /** Loop-detection hash of the request as received; stamped into every branch we fork. */
  loopHash: string | undefined;

  constructor(
    readonly server: ServerTransaction,
    private readonly host: ContextHost,
  ) {
    server.user = this;
  }

  /** Start forking. Groups run one after another until one yields a 2xx or 6xx. */
  start(groups: Target[][]): void {
    this.groups.push(...groups.filter((g) => g.length > 0));
    this.nextGroup();
  }

  /** CANCEL from upstream (16.10): cancel every pending branch; the 487s come back through onResponse. */
  cancel(): void {
    if (this.finalSent) return;
    this.cancelled = true;
    this.cancelPending();
    if (this.pending === 0) this.sendBest();
  }

  onResponse(ct: ClientTransaction, res: SipMessage, env: Envelope | undefined): void {
    // A phone reached only over its own connection (registered over TCP/WS): that connection is
    // gone, so the phone cannot be reached at all for now. 480 (430 for a flow), not a 503 about us.
    const gone = env === undefined && res.status === 503 && ct.destination.connectionOnly;
    if ((gone || res.status === 430) && this.tryNextFlow(ct)) return;
    if (gone) return this.connectionGone(ct);
    const status = res.status;
    if (status < 200) {
      if (status !== 100 && !this.finalSent) this.forwardUp(res);
      return;
    }
    if (status < 300) {
      // Every 2xx goes upstream, also late ones from other forks and retransmissions (RFC 6026).
      this.finalSent = true;
      this.forwardUp(res);
      this.branchDone(ct);
      this.cancelPending();
      this.settle();
      return;
    }
    if (!this.branchDone(ct)) return; // retransmitted final: tm absorbs, but be safe
    if (this.finalSent) {
      this.settle(); // a fork's late final after the 2xx went up: nothing more to relay
      return;
    }
    if (status === 401 || status === 407) this.collectChallenges(res);
    if (isBetter(status, this.bestStatus)) {
      this.bestStatus = status;
      this.best = res;
      this.bestIsLocal = false;
    }
    if (status >= 600) this.cancelPending();
    if (this.pending === 0 && !this.finalSent) {
      if (this.cancelled || (this.bestStatus ?? 0) >= 600 || !this.nextGroup()) this.sendBest();
    }
  }

  /** The branch's flow failed: its instance's next flow takes its place. False when it has none (or it is too late). */
  private tryNextFlow(ct: ClientTransaction): boolean {
    const rest = this.flows.get(ct);
    if (!rest?.length || this.cancelled || this.finalSent || !this.branchDone(ct)) return false;
    const [next, ...after] = rest;
    this.pending++;
    this.launch({ ...next!, alternates: after });
    return true;
  }

  private connectionGone(ct: ClientTransaction): void {
    const flow = this.flows.has(ct);
    if (!this.branchDone(ct)) return;
    const status = flow ? 430 : 480;
    if (!this.finalSent && isBetter(status, this.bestStatus)) {
      this.bestStatus = status;
      this.best = this.host.localResponse(this.server.request, status, { reason: flow ? 'Flow Failed' : 'Connection To The Phone Is Gone' });
      this.bestIsLocal = true;
    }
    if (this.pending === 0 && !this.finalSent && (this.cancelled || !this.nextGroup())) this.sendBest();
  }

  /** A branch that never got on the wire counts as a 503 from it; one too large to send, as a 513. */
  branchFailed(reason: string, tooLarge?: MessageTooLargeError): void {
    this.pending--;
    const status = tooLarge ? 513 : 503;
    if (isBetter(status, this.bestStatus)) {
      this.bestStatus = status;
      this.best = this.host.localResponse(this.server.request, status, {
        reason: tooLarge ? tooLargeReason(tooLarge.size, tooLarge.limit) : reason,
      });
      this.bestIsLocal = true;
    }
    if (this.pending === 0 && !this.finalSent && (this.cancelled || !this.nextGroup())) this.sendBest();
  }

  get pendingBranches(): number {
    return this.pending;
  }

  private nextGroup(): boolean {
    if (this.cancelled) return false;
    const group = this.groups[++this.groupIndex];
    if (!group) return false;
    this.pending += group.length;
    for (const target of group) this.launch(target);
    return true;
  }

  /** Fork one branch (already counted in `pending`). */
  private launch(target: Target): void {
    let ct: ClientTransaction | Promise<ClientTransaction>;
    try {
      ct = this.host.forward(this, target);
    } catch (err) {
      this.branchFailed((err as Error).message, tooLargeOf(err));
      return;
    }
    if (ct instanceof Promise) ct.then((c) => this.branchStarted(c, target), (err: Error) => this.branchFailed(err.message, tooLargeOf(err)));
    else this.branchStarted(ct, target);
  }

  private branchStarted(ct: ClientTransaction, target: Target): void {
    this.branches.push(ct);
    if (target.flow) this.flows.set(ct, target.alternates ?? []);
    ct.user = 'pending';
    if (this.cancelled || this.finalSent) ct.cancel();
  }

  /**
   * Final response sent and every branch final: from here the context only relays 2xx
   * retransmissions (RFC 6026) while its transactions linger for 32 s, and needs none of its
   * targets, branches or collected responses.
   */
  private settle(): void {
    if (!this.finalSent || this.pending > 0) return;
    this.groups.length = 0;
    this.branches.length = 0;
    this.flows.clear();
    this.challenges.length = 0;
    this.best = undefined;
  }

  /** Mark a branch final. False when it was already final. */
  private branchDone(ct: ClientTransaction): boolean {
    if (ct.user !== 'pending') return false;
    ct.user = 'done';
    this.pending--;
    return true;
  }

  private cancelPending(): void {
    for (const ct of this.branches) if (ct.user === 'pending') ct.cancel();
  }

  private sendBest(): void {
    if (this.finalSent) return;
    this.finalSent = true;
    this.replyBest();
    this.settle();
  }

  private replyBest(): void {
    const req = this.server.request;
    let res = this.best;
    // A cancelled request whose branches only timed out (or never started) still ends in 487 upstream.
    if (this.cancelled && (res === undefined || res.status === 408)) {
      this.host.reply(this.server, this.host.localResponse(req, 487, { reason: 'Request Terminated' }));
      return;
    }
    if (!res) {
      this.host.reply(this.server, this.host.localResponse(req, 500, { reason: 'No Branch Answered' }));
      return;
    }
    if (res.status === 503) res = relabel(res, 500); // 16.7 step 6: a 503 must not make upstream think we are overloaded
    if (this.bestIsLocal) {
      // Built from the upstream request: it carries no Via of ours to strip.
      this.host.reply(this.server, res);
      return;
    }
    if ((res.status === 401 || res.status === 407) && this.challenges.length) {
      res.remove('www-authenticate');
      res.remove('proxy-authenticate');
      for (const [name, value] of this.challenges) res.append(name, value);
    }
    this.forwardUp(res);
  }

  private collectChallenges(res: SipMessage): void {
    for (const f of res.fields('www-authenticate')) this.challenges.push(['WWW-Authenticate', f.value]);
    for (const f of res.fields('proxy-authenticate')) this.challenges.push(['Proxy-Authenticate', f.value]);
  }

  /**
   * Strip our Via and send through the server transaction. A response left with no Via was
   * addressed to us alone and must not be forwarded (16.7 step 3); a broken downstream sent it
   * in answer to our request, so the caller still gets that status, built from its own request.
   */
  private forwardUp(res: SipMessage): void {
    res.shift('via');
    if (!res.has('via')) {
      this.host.dropped('response_without_via');
      const toTag = res.toTag;
      res = this.host.localResponse(this.server.request, res.status, { reason: res.reason, toTag });
    }
    this.host.reply(this.server, res);
  }
}

function tooLargeOf(err: unknown): MessageTooLargeError | undefined {
  return err instanceof MessageTooLargeError ? err : undefined;
}

/** Change the status; a reason phrase that says more than the default one is kept. */
function relabel(res: SipMessage, status: number): SipMessage {
  if (res.reason === reasonPhrase(res.status)) res.reason = reasonPhrase(status);
  res.status = status;
  return res;
}
