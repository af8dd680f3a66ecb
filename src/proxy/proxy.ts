// The stateful proxy core (RFC 3261 section 16): the transaction user that
// decides, for every request, whether to answer it, register it, or fork it.

import type { Logger } from '../core/log.js';
import { SipParseError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { parseMaxForwards, parseNameAddr } from '../sip/headers.js';
import type { SipMessage } from '../sip/message.js';
import { buildLocalResponse, type ToTagKey } from '../sip/local-response.js';
import type { ResponseOptions } from '../sip/response.js';
import { parseUriShared } from '../sip/uri.js';
import type { SipUri } from '../sip/types.js';
import type { Registrar } from '../registrar/registrar.js';
import { computeLoopHash } from '../tm/loop.js';
import type { ClientTransaction, ServerTransaction, TransactionUser } from '../tm/types.js';
import type { Destination, Envelope, Sender, SocketSpec } from '../transport/types.js';
import { type ContextHost, ProxyContext, type Target } from './context.js';
import type { FlowRef, FlowTokens } from './flow-token.js';
import { type CheckDeps, requestChecks } from './checks.js';
import type { LocalAddresses } from './local-address.js';
import { preprocessRoute } from './loose-route.js';
import type { MtuPolicy } from './mtu.js';
import { type RouteStampDeps, stampRoutes } from './record-route.js';
import { SocketChoice } from './sockets.js';
import { requestFacts } from './access.js';
import type { RequestFacts, Verdict } from '../auth/policy.js';
import { resolveUri } from './resolve.js';
import { checkDecision, type RouteHook, routeRequest } from './route-hook.js';
import { matchRoute, type RouteEntry } from './route-table.js';
import { contactGroups, decrementMaxForwards, routeTarget, safeReason, sameSide } from './targets.js';

/** The part of the transaction layer the proxy drives. */
export interface TransactionApi {
  request(req: SipMessage, dest: Destination, handler: ProxyContext, opts?: { loop?: string }): ClientTransaction;
  decodeBranch(branch: string | undefined): { nodeId: number; valid: boolean; loop?: string } | null;
  sendStateless(req: SipMessage, dest: Destination): void;
  /** False when the response could not be addressed (tm dropped and counted it). */
  sendResponseStateless(res: SipMessage): boolean;
  ownsBranch(branch: string): boolean;
}

/**
 * Counters the proxy reports; the node wires them to src/admin metrics. Requests sent are counted by
 * tm (TmEvents.onRequestSent), which also sends requests the proxy never sees (CANCEL, non-2xx ACK).
 */
export interface ProxyCounters {
  responseOut(code: number): void;
  drop(reason: string): void;
}

export interface ProxySettings {
  record_route: boolean;
  record_route_address: 'socket' | 'anycast';
  add_path: 'outbound' | 'always' | 'never';
  max_forwards: number;
  proxy_require_supported: string[];
}

export interface ProxyDeps {
  /** This node's id: loop detection only trusts branches this node made. */
  nodeId: number;
  tm: TransactionApi;
  sender: Sender;
  sockets: () => SocketSpec[];
  local: LocalAddresses;
  /** Names TCP/WS connections in our Record-Route (flow-token.ts). */
  flows: FlowTokens;
  registrar?: Registrar;
  routes: readonly RouteEntry[];
  hook?: RouteHook;
  settings: ProxySettings;
  clock: Clock;
  counters: ProxyCounters;
  /** Key of the To tags of our own responses: the same on every node of a cluster. */
  toTags: ToTagKey;
  log: Logger;
  /** Message size and UDP-to-TCP switch (RFC 3261 18.1.1, mtu.ts). */
  mtu: MtuPolicy;
  /** A stray response another part of the node answers for (an OPTIONS keep-alive's): true when it took it. */
  claimStray?: (res: SipMessage) => boolean;
  /** Who may do what (src/auth): undefined serves anyone (a loopback node, or auth.open_relay without users). */
  access?: (req: SipMessage, source: string, facts: RequestFacts) => Verdict;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE, PUBLISH';

export class Proxy implements TransactionUser, ContextHost {
  private readonly checkDeps: CheckDeps;
  private readonly stampDeps: RouteStampDeps;
  private readonly socketChoice: SocketChoice;

  constructor(private readonly d: ProxyDeps) {
    this.socketChoice = new SocketChoice(d.sockets, d.local);
    this.checkDeps = {
      nodeId: d.nodeId,
      decodeBranch: (branch) => d.tm.decodeBranch(branch),
      // Read at each request: settings may be replaced on reload.
      get proxyRequireSupported() {
        return d.settings.proxy_require_supported;
      },
    };
    const anycastFor = (sock: SocketSpec) => d.local.anycastFor(sock);
    this.stampDeps = {
      flows: d.flows,
      get settings() {
        return d.settings;
      },
      socketById: (id) => this.socketChoice.byId(id),
      socketFor: (dest) => d.sender.socketFor(dest),
      get anycastFor() {
        return d.settings.record_route_address === 'anycast' ? anycastFor : undefined;
      },
    };
  }

  // ---- TransactionUser ----------------------------------------------------

  onRequest(req: SipMessage, env: Envelope, server: ServerTransaction | undefined): void {
    if (!server) {
      this.forwardAck(req, env);
      return;
    }
    const ctx = new ProxyContext(server, this);
    try {
      // Over the request as received, before any Route or Request-URI change (16.6 step 8).
      ctx.loopHash = computeLoopHash(req);
      const outcome = requestChecks(req, ctx.loopHash, this.checkDeps);
      if (outcome) {
        if (outcome.kind === 'answer_options') this.answerOptions(server);
        else this.reply(server, this.localResponse(req, outcome.status, { reason: outcome.reason, headers: outcome.headers }));
        return;
      }
    } catch (err) {
      this.fail(server, err);
      return;
    }
    // 16.2: tell the caller we are on it before routing, which may wait for a hook or DNS.
    if (req.method === 'INVITE') this.reply(server, this.localResponse(req, 100));
    try {
      this.route(req, env, ctx)?.catch((err: unknown) => this.fail(server, err));
    } catch (err) {
      this.fail(server, err);
    }
  }

  onCancel(cancelTxn: ServerTransaction, invite: ServerTransaction | undefined): void {
    const ctx = invite?.user;
    if (!invite || !(ctx instanceof ProxyContext) || ctx.finalSent) {
      // 16.10: no matching transaction (or already answered): nothing to cancel here.
      this.reply(cancelTxn, this.localResponse(cancelTxn.request, 481, { reason: 'Call/Transaction Does Not Exist' }));
      return;
    }
    this.reply(cancelTxn, this.localResponse(cancelTxn.request, 200));
    ctx.cancel();
  }

  onStrayResponse(res: SipMessage, _env: Envelope): void {
    if (this.d.claimStray?.(res)) return;
    // A response to something we forwarded statelessly, or a late 2xx: relay it if the top Via is ours.
    const branch = res.topVia.branch;
    if (branch === undefined || !this.d.tm.ownsBranch(branch) || res.vias.length < 2) {
      this.d.counters.drop('stray_response');
      return;
    }
    res.shift('via');
    if (this.d.tm.sendResponseStateless(res)) this.d.counters.responseOut(res.status);
  }

  // ---- ContextHost ----------------------------------------------------------

  reply(server: ServerTransaction, res: SipMessage): void {
    // Any final answer closes the context, so a late CANCEL gets 481 rather than a second final.
    if (res.status >= 200 && server.user instanceof ProxyContext) server.user.finalSent = true;
    server.respond(res);
    this.d.counters.responseOut(res.status);
  }

  dropped(reason: string): void {
    this.d.counters.drop(reason);
  }

  localResponse(req: SipMessage, status: number, opts?: ResponseOptions): SipMessage {
    return buildLocalResponse(req, status, this.d.toTags, opts);
  }

  forward(ctx: ProxyContext, target: Target): ClientTransaction | Promise<ClientTransaction> {
    const inbound = ctx.server.request;
    const req = inbound.clone();
    if (target.uri !== undefined) req.uri = target.uri;
    if (target.routes?.length) {
      const existing = req.getAll('route');
      req.remove('route');
      for (const r of [...target.routes, ...existing]) req.append('Route', r);
    }
    decrementMaxForwards(req, this.d.settings.max_forwards);
    const dest = target.destination ?? this.destinationFor(req, target, ctx.server.envelope);
    // An IP literal (the common case) needs no DNS: no promise, no microtask per branch.
    if (dest instanceof Promise) return dest.then((d) => this.sendBranch(ctx, inbound, req, d));
    return this.sendBranch(ctx, inbound, req, dest);
  }

  private sendBranch(ctx: ProxyContext, inbound: SipMessage, req: SipMessage, dest: Destination): ClientTransaction {
    stampRoutes(req, inbound, ctx.server.envelope, dest, this.stampDeps);
    return this.d.tm.request(req, this.d.mtu.fit(req, dest), ctx, { loop: ctx.loopHash });
  }

  // ---- request routing ------------------------------------------------------

  /** Routing decision (16.4-16.6). Synchronous unless a route hook is configured. */
  private route(req: SipMessage, env: Envelope, ctx: ProxyContext): Promise<void> | void {
    const server = ctx.server;
    const { ours } = preprocessRoute(req, this.d.local);
    const ruri = parseUriShared(req.uri);
    // After a double Record-Route, leave from the socket our other entry names (the side the next hop is on).
    const socketId = this.socketChoice.fromRoute(ours, env) ?? this.socketChoice.offAnycast(req, env);
    const tokens = this.d.flows.decodeAll(ours);
    // OPTIONS to us (a phone's keep-alive, a monitor) needs no credentials; anything else asks the policy.
    const toUs = this.d.local.isMe(ruri) && !ruri.user && !req.has('route');
    if (this.d.access && !(toUs && req.method === 'OPTIONS')) {
      const verdict = this.d.access(req, env.remote.address, requestFacts(req, ruri, ours, tokens, this.d.local, this.d.routes, this.d.flows));
      if (verdict.kind !== 'pass') return this.refuse(server, verdict);
      ctx.authenticated = verdict.user;
    }

    // A Route remains: follow it (in-dialog requests, pre-loaded routes).
    if (req.has('route')) return ctx.start([[{ socketId }]]);
    // Our Record-Route named the TCP/WS connection of the other side: that is where it goes. Gone,
    // it is 430 Flow Failed (RFC 5626 5.3), unless the peer can be dialled as its request reads.
    const flow = this.flowTarget(tokens, env);
    if (flow) return ctx.start([[{ destination: flow.destination, flow: true, alternates: flow.dialable ? [{ socketId }] : [] }]]);

    // Only a To tag makes a request in-dialog; a pre-loaded Route to us (an outbound proxy
    // setting) leaves an initial request to be routed like any other.
    const inDialog = req.toTag !== undefined;
    if (this.d.local.isMe(ruri) && !ruri.user) {
      if (req.method === 'OPTIONS') return this.answerOptions(server);
      if (inDialog) return this.reply(server, this.localResponse(req, 404, { reason: 'Not Here' }));
    }
    if (inDialog) {
      // The Request-URI is the remote target: send it there.
      if (this.d.local.isMe(ruri)) return this.reply(server, this.localResponse(req, 404, { reason: 'Not Here' }));
      return ctx.start([[{ socketId }]]);
    }

    if (req.method === 'REGISTER' && this.d.registrar && this.d.local.isLocalDomain(ruri)) {
      const { response } = this.d.registrar.handle(req, env, this.d.clock.now());
      return this.reply(server, response);
    }

    if (this.d.hook) return this.routeByHook(req, env, ctx, ruri);
    return this.routeStatic(req, ctx, ruri);
  }

  private async routeByHook(req: SipMessage, env: Envelope, ctx: ProxyContext, ruri: SipUri): Promise<void> {
    const decision = checkDecision(await this.d.hook!(routeRequest(req, env, ctx.authenticated)));
    if (decision) {
      if ('status' in decision) return this.reply(ctx.server, this.localResponse(req, decision.status, { reason: decision.reason }));
      const targets = decision.targets.map((uri) => routeTarget(uri, decision.socket));
      return this.startUnlessCancelled(ctx, decision.strategy === 'serial' ? targets.map((t) => [t]) : [targets]);
    }
    return this.routeStatic(req, ctx, ruri);
  }

  /** Registrar, route table, else the Request-URI's host. */
  private routeStatic(req: SipMessage, ctx: ProxyContext, ruri: SipUri): void {
    const server = ctx.server;
    const local = this.d.local.isLocalDomain(ruri);
    if (local && this.d.registrar && ruri.user !== undefined) {
      const groups = contactGroups(this.d.registrar, ruri, this.d.clock.now());
      if (groups.length) return this.startUnlessCancelled(ctx, groups);
    }

    const route = matchRoute(this.d.routes, ruri);
    if (route) {
      const targets = route.targets.map((uri) => routeTarget(uri, route.socket));
      return this.startUnlessCancelled(ctx, route.strategy === 'serial' ? targets.map((t) => [t]) : [targets]);
    }

    if (!local) return this.startUnlessCancelled(ctx, [[{}]]); // relay to the Request-URI's host
    if (this.d.registrar) return this.reply(server, this.localResponse(req, 404, { reason: 'Not Found' }));
    return this.reply(server, this.localResponse(req, 503, { reason: 'No Route' }));
  }

  private startUnlessCancelled(ctx: ProxyContext, groups: Target[][]): void {
    // A CANCEL may have been answered while a route hook or DNS was pending.
    if (ctx.cancelled) return;
    ctx.start(groups);
  }

  private destinationFor(req: SipMessage, target: Target, env: Envelope): Destination | Promise<Destination> {
    if (target.nextHop) {
      return resolveUri(target.nextHop, target.socketId ?? sameSide(target.nextHop, env));
    }
    return this.nextHop(req, target.socketId ?? this.socketChoice.sameSide(req, env));
  }

  /** Where a request goes next: its top Route, else its Request-URI (16.6 steps 6-7). */
  private nextHop(req: SipMessage, socketId: string | undefined): Destination | Promise<Destination> {
    const routes = req.getAll('route');
    let uri: SipUri;
    if (routes.length) {
      const top = parseNameAddr(routes[0]!);
      if (!top.uri.params.has('lr')) {
        // Strict router next: it wants its URI in the Request-URI and ours at the end of the route.
        req.remove('route');
        for (const r of routes.slice(1)) req.append('Route', r);
        req.append('Route', `<${req.uri}>`);
        req.uri = top.uriText;
      }
      uri = top.uri;
    } else {
      uri = parseUriShared(req.uri);
    }
    return resolveUri(uri, socketId);
  }

  /** The flow named by a token of ours, unless it is the one the request came on. */
  private flowTarget(tokens: ReadonlyArray<FlowRef | undefined>, env: Envelope): FlowRef | undefined {
    return tokens.find((ref) => ref !== undefined && !this.d.flows.isArrival(ref, env));
  }

  private sendAck(req: SipMessage, dest: Destination): void {
    try {
      dest = this.d.mtu.fit(req, dest);
    } catch {
      return this.d.counters.drop('ack_too_large');
    }
    this.d.tm.sendStateless(req, dest);
  }

  /** ACK that matched no transaction: a 2xx ACK going end to end. Forward statelessly along its route. */
  private forwardAck(req: SipMessage, env: Envelope): void {
    try {
      const mf = req.get('max-forwards');
      if (mf !== undefined && parseMaxForwards(mf) === 0) return this.d.counters.drop('ack_max_forwards');
      const { ours } = preprocessRoute(req, this.d.local);
      const tokens = this.d.flows.decodeAll(ours);
      // An ACK cannot be challenged: one that would be relayed for someone the policy refuses is dropped.
      if (this.d.access?.(req, env.remote.address, requestFacts(req, parseUriShared(req.uri), ours, tokens, this.d.local, this.d.routes, this.d.flows)).kind === 'refused') {
        return this.d.counters.drop('ack_refused');
      }
      const flow = req.has('route') ? undefined : this.flowTarget(tokens, env);
      if (!flow && !req.has('route') && this.d.local.isMe(parseUriShared(req.uri))) return this.d.counters.drop('ack_for_us');
      decrementMaxForwards(req, this.d.settings.max_forwards);
      const socketId = this.socketChoice.fromRoute(ours, env) ?? this.socketChoice.offAnycast(req, env) ?? this.socketChoice.sameSide(req, env);
      const dest = flow?.destination ?? this.nextHop(req, socketId);
      if (dest instanceof Promise) dest.then((d) => this.sendAck(req, d), () => this.d.counters.drop('ack_unroutable'));
      else this.sendAck(req, dest);
    } catch (err) {
      this.d.log.debug({ err }, 'cannot route ACK');
      this.d.counters.drop('ack_unroutable');
    }
  }

  /** A challenge (401/407 with its headers) or a 403 with the policy's reason. */
  private refuse(server: ServerTransaction, v: Exclude<Verdict, { kind: 'pass' }>): void {
    const opts = v.kind === 'challenge' ? { headers: v.headers } : { reason: v.reason };
    this.reply(server, this.localResponse(server.request, v.status, opts));
  }

  private answerOptions(server: ServerTransaction): void {
    this.reply(
      server,
      this.localResponse(server.request, 200, {
        headers: [
          ['Allow', ALLOW],
          ['Accept', 'application/sdp'],
          ['Supported', 'path'],
        ],
      }),
    );
  }

  /** Any failure while routing becomes a SIP answer, never an escaped exception. */
  private fail(server: ServerTransaction, err: unknown): void {
    const ctx = server.user instanceof ProxyContext ? server.user : undefined;
    if (ctx?.finalSent || (server.lastResponse && server.lastResponse.status >= 200)) return;
    if (err instanceof SipParseError) {
      this.reply(server, this.localResponse(server.request, err.status, { reason: err.message }));
      return;
    }
    this.d.log.warn({ err }, 'routing failed');
    const reason = err instanceof Error && 'code' in err ? err.message : 'Routing Failed';
    this.reply(server, this.localResponse(server.request, 500, { reason: safeReason(reason) }));
  }
}
