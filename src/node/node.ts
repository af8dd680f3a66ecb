// One anysip node: the layers of DESIGN.md wired together.
// socket -> transport -> ingress (parse, validate) -> tm -> proxy -> tm -> transport.

import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/log.js';
import { AdminServer } from '../admin/server.js';
import { Metrics } from '../admin/metrics.js';
import type { Config } from '../config/types.js';
import { type Clock, systemClock } from '../core/clock.js';
import { createLogger } from '../core/log.js';
import { LocalAddresses } from '../proxy/local-address.js';
import { FlowTokens } from '../proxy/flow-token.js';
import { Proxy } from '../proxy/proxy.js';
import { MtuPolicy } from '../proxy/mtu.js';
import { loadRouteHook } from '../proxy/route-hook.js';
import { Registrar } from '../registrar/registrar.js';
import { LocationModule } from '../location/module.js';
import { AuthModule } from '../auth/module.js';
import type { LocationService } from '../location/location.js';
import type { Binding } from '../location/binding.js';
import type { Replicator } from '../replica/replicator.js';
import { ToTagKey } from '../sip/local-response.js';
import { TransactionLayer } from '../tm/layer.js';
import { TimerWheel } from '../tm/timer-wheel.js';
import { TransportLayer } from '../transport/layer.js';
import { TRANSPORT_GAUGES } from '../transport/context.js';
import type { SocketSpec } from '../transport/types.js';
import { Ingress } from './ingress.js';
import { Drain } from './drain.js';
import { Summary } from './summary.js';
import { Cluster } from '../cluster/cluster.js';
import { createAnycast, type Anycast, type GateEvents } from '../anycast/index.js';
import type { Bus, JoinGate, Membership } from '../cluster/types.js';
import type { ReplicaScheduler } from '../replica/types.js';
import type { SipMessage } from '../sip/message.js';
import type { Envelope, Sender } from '../transport/types.js';

export interface NodeOptions {
  log?: Logger;
  clock?: Clock;
  /** Replaces the socket layer (the simulator's in-memory network). */
  transport?: NodeTransport;
  /** Bus and membership to use instead of a `cluster:` section (the simulator's in-memory ones). */
  bus?: Bus;
  membership?: Membership;
  /** Holds the node in `joining` until its replicated tables are whole (default: the cluster's membership; the simulator passes its own). */
  gate?: JoinGate;
  /** Where the replicators' timers run (the simulator's virtual clock). With realTimers false and none given, they run no repair tick. */
  replicaScheduler?: ReplicaScheduler;
  /** false: no interval timers are started; whoever built the node advances `wheel` (the simulator). Default true. */
  realTimers?: boolean;
  anycastEvents?: GateEvents;
}

/** What the node needs from its transport layer (TransportLayer, or the simulator's network). */
export type NodeTransport = Pick<TransportLayer, 'onMessage' | 'start' | 'stop' | 'sockets' | 'stats' | 'send' | 'socketFor'>;

export class Node {
  readonly log: Logger;
  readonly metrics = new Metrics();
  readonly transport: NodeTransport;
  readonly wheel: TimerWheel;
  readonly registrar: Registrar | undefined;
  /** Digest users, nonces and the access policy (src/auth); undefined on an open node. */
  readonly auth: AuthModule | undefined;
  /** The cluster-wide binding table (src/location), its replication and keep-alives. */
  readonly locationModule: LocationModule | undefined;
  tm!: TransactionLayer;
  proxy!: Proxy;
  /** RFC 3261 18.1.1 size rule of the proxy; its counts are exported as anysip_mtu_*. */
  mtu!: MtuPolicy;
  private flowTokens!: FlowTokens;
  private admin: AdminServer | undefined;
  /** Drain and undrain (src/node/drain.ts): POST /drain, /undrain; `drain` in /status. */
  drain: Drain | undefined;
  private ingress: Ingress | undefined;
  private adminPort = 0;
  private readonly clock: Clock;
  private readonly startedAt: number;
  private summary: Summary | undefined;
  /** The cluster bus and membership (src/cluster); undefined without a `cluster:` config section. */
  cluster: Cluster | undefined;
  /** Called when the node cannot go on (e.g. its id is held by a live cluster node); the CLI exits non-zero. */
  onFatal: ((err: Error) => void) | undefined;
  /** The anycast gate and its sender, when the node is in a cluster (src/anycast). */
  anycast: Anycast | undefined;
  /** What tm and the proxy send through: the transport, or the anycast sender once the gate exists. */
  private out: Sender;
  private readonly opts: NodeOptions;
  /** Key of the Via branch MAC; the To tags of our own responses are derived from it too. */
  private readonly branchSecret: string | Buffer;
  private readonly toTags: ToTagKey;
  private readonly sendOut: Sender = {
    send: (data, dest, onError) => this.out.send(data, dest, onError),
    socketFor: (dest) => this.out.socketFor(dest),
  };

  constructor(readonly config: Config, opts: NodeOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.log = opts.log ?? createLogger({ name: config.node.name, level: config.log.level, nodeId: config.node.id });
    this.opts = opts;
    this.transport =
      opts.transport ??
      new TransportLayer({
        sockets: config.listen.map((l): SocketSpec => ({ ...l })),
        tcpIdleTimeoutMs: config.transport.tcp_idle_timeout * 1000,
        maxMessageSize: config.transport.max_message_size,
        messageDeadlineMs: config.transport.message_deadline * 1000,
        maxConnections: config.transport.max_connections,
        maxConnectionsPerSource: config.transport.max_connections_per_source,
        maxSendQueue: config.transport.max_send_queue,
        sendStallTimeoutMs: config.transport.send_stall_timeout * 1000,
        log: this.log.child({ module: 'transport' }),
        clock: this.clock,
      });
    this.out = this.transport;
    this.wheel = new TimerWheel({ now: this.clock.now() });
    this.branchSecret = config.node.branch_secret || randomBytes(16);
    this.toTags = new ToTagKey(this.branchSecret);
    this.locationModule = config.registrar.enabled ? new LocationModule(config.registrar, config.node.id, this.clock) : undefined;
    this.registrar = this.locationModule ? new Registrar(config.registrar, this.locationModule.service, this.toTags) : undefined;
    this.auth = AuthModule.needed(config.auth) ? new AuthModule(config.auth, this.branchSecret, config.node.id, this.clock, this.log.child({ module: 'auth' })) : undefined;
  }

  /** Bind every socket, load the route hook, start timers and the admin endpoint. */
  async start(): Promise<void> {
    const c = this.config;
    const hook = c.route_hook ? await loadRouteHook(c.route_hook) : undefined;
    // Messages that arrive before the layers above exist are dropped and counted, not lost silently.
    this.transport.onMessage = (data, env) => {
      if (this.ingress) this.ingress.receive(data, env);
      else this.metrics.drop('starting');
    };
    await this.transport.start();
    const sockets = this.transport.sockets();
    const counters = this.metrics;
    const branchSecret = this.branchSecret;
    const mtuSettings = { udp_mtu_threshold: c.proxy.udp_mtu_threshold, max_message_size: c.transport.max_message_size };
    this.flowTokens = new FlowTokens(branchSecret, c.node.id);
    this.mtu = new MtuPolicy(mtuSettings, () => this.transport.sockets(), (dest) => this.sendOut.socketFor(dest));
    this.proxy = new Proxy({
      nodeId: c.node.id,
      tm: {
        request: (req, dest, handler, opts) => this.tm.request(req, dest, handler, opts),
        decodeBranch: (branch) => this.tm.decodeBranch(branch),
        sendStateless: (req, dest) => this.tm.sendStateless(req, dest),
        sendResponseStateless: (res) => this.tm.sendResponseStateless(res),
        ownsBranch: (branch) => this.tm.ownsBranch(branch),
      },
      sender: this.sendOut,
      sockets: () => this.transport.sockets(),
      local: new LocalAddresses(sockets, c.proxy.domains),
      flows: this.flowTokens,
      registrar: this.registrar,
      routes: c.routes,
      hook,
      settings: c.proxy,
      clock: this.clock,
      counters,
      toTags: this.toTags,
      log: this.log,
      mtu: this.mtu,
      claimStray: (res) => this.locationModule?.keepalives?.claim(res) ?? false,
      ...(this.auth ? { access: (req, source, facts) => this.auth!.decide(req, source, facts) } : {}),
    });
    this.tm = new TransactionLayer({
      nodeId: c.node.id,
      branchSecret,
      timers: { t1: c.timers.t1, t2: c.timers.t2, t4: c.timers.t4, timerC: c.timers.timer_c },
      clock: this.clock,
      wheel: this.wheel,
      sender: this.sendOut,
      user: this.proxy,
      events: { onRequestSent: (method) => counters.requestOut(method), onDrop: (reason) => counters.drop(reason) },
    });
    this.ingress = new Ingress({
      sender: this.sendOut,
      counters,
      log: this.log,
      toTags: this.toTags,
      next: (msg, env) => this.next(msg, env),
      maxMessageSize: c.transport.max_message_size,
      ...(this.auth ? { admit: (source: string, isRequest: boolean, relayed: boolean) => this.auth!.admit(source, isRequest, relayed) } : {}),
    });
    if (this.opts.realTimers !== false) this.wheel.start(this.clock, 10);
    this.metrics.setGauges(() => {
      const tm = this.tm.stats();
      return {
        serverTransactions: tm.serverTransactions,
        clientTransactions: tm.clientTransactions,
        registrarContacts: this.location?.size ?? 0,
      };
    });
    // /status `transport` and `transactions.counters` in /metrics, as anysip_<section>_<key in snake case>.
    this.metrics.addSnapshot({ prefix: 'transport_', read: () => ({ ...this.transport.stats() }), gauges: TRANSPORT_GAUGES });
    this.metrics.addSnapshot({ prefix: 'mtu_', read: () => ({ ...this.mtu.counts }) });
    const location = this.locationModule;
    if (location) this.metrics.addSnapshot({ prefix: 'location_', read: () => location.figures(), gauges: LocationModule.GAUGES });
    const auth = this.auth;
    if (auth) this.metrics.addSnapshot({ prefix: 'auth_', read: () => auth.figures(), gauges: AuthModule.GAUGES });
    this.metrics.addSnapshot({ prefix: 'transactions_', read: () => ({ ...this.tm.stats().counters, timers: this.tm.stats().timers }), gauges: ['timers'] });
    if (c.cluster) {
      this.cluster = new Cluster({ config: c.cluster, node: c.node, metrics: this.metrics, clock: this.clock, log: this.log });
      this.cluster.onFatal = (err) => this.onFatal?.(err);
    }
    // The replica holds the node in `joining` until it has the table: it must start before membership does.
    const bus = this.opts.bus ?? this.cluster?.bus;
    const membership = this.opts.membership ?? this.cluster?.membership;
    const simulated = this.opts.realTimers === false;
    const gate = this.opts.gate ?? this.cluster?.membership;
    const scheduler = this.opts.replicaScheduler;
    if (bus && membership) {
      const registry = this.metrics.registry;
      const wiring = { bus, membership, gate, log: this.log, simulated, registry, ...(scheduler ? { scheduler } : {}) };
      this.locationModule?.replicate(wiring);
      this.auth?.replicate(wiring);
    }
    await this.cluster?.start();
    this.startAnycast();
    this.locationModule?.start(this.sendOut, membership, !simulated);
    this.auth?.start(!simulated);
    this.drain = new Drain({
      settings: c.drain,
      membership: this.cluster?.membership,
      held: () => ({ server: this.tm.stats().serverTransactions, client: this.tm.stats().clientTransactions }),
      clock: this.clock,
      log: this.log,
      realTimers: this.opts.realTimers,
    });
    if (c.admin.enabled) {
      this.admin = new AdminServer({
        address: c.admin.address,
        port: c.admin.port,
        metrics: this.metrics,
        status: () => this.status(),
        actions: {
          drain: async () => this.drain!.drain(),
          undrain: async () => this.drain!.undrain(),
          reload: async () => this.reload(),
          ...(this.auth ? { ban: async (q) => this.auth!.banAction(q), unban: async (q) => this.auth!.unbanAction(q) } : {}),
        },
        ...(this.locationModule ? { views: { location: this.locationModule.view() } } : {}),
      });
      this.adminPort = await this.admin.start();
    }
    if (this.opts.realTimers !== false) {
      this.summary = new Summary({ intervalSeconds: c.log.summary_interval, log: this.log, status: () => this.status() });
      this.summary.start();
    }
    this.log.info(
      { sockets: sockets.map((s) => `${s.transport}:${s.address}:${s.port}`), admin: this.adminPort || undefined },
      'anysip node started',
    );
  }

  /** In a cluster, the anycast gate goes between ingress and tm (DESIGN.md, "Packets' path"). */
  private startAnycast(): void {
    const bus = this.opts.bus ?? this.cluster?.bus;
    const membership = this.opts.membership ?? this.cluster?.membership;
    if (!bus || !membership) return;
    const ingress = this.ingress!;
    this.anycast = createAnycast({
      settings: this.config.anycast,
      bus,
      membership,
      transport: this.transport,
      clock: this.clock,
      wheel: this.wheel,
      log: this.log,
      registry: this.metrics.registry,
      drop: (reason) => this.metrics.drop(reason),
      events: this.opts.anycastEvents,
      ...(this.auth ? { ownerHint: (req: SipMessage) => this.auth!.issuerOf(req) } : {}),
    });
    this.anycast.gate.attach(this.tm, (data, env) => ingress.receive(data, env));
    this.out = this.anycast.sender;
    if (this.location) this.location.flows = this.anycast.sender;
    this.flowTokens.flows = this.anycast.sender;
  }

  private next(msg: SipMessage, env: Envelope): void {
    if (this.anycast && !this.toUnicast(msg, env)) this.anycast.gate.receive(msg, env);
    else this.tm.receive(msg, env);
  }

  /**
   * A request sent to this node's own unicast address (its Record-Route entry on a dialog's route
   * set, a peer relaying along that route set) is this node's to handle, whoever owns the Call-ID
   * now: after a drain or a membership change the rendezvous owner is another node, and sending it
   * there would bounce it back here along the same Route. Nothing else reaches a unicast socket.
   */
  private toUnicast(msg: SipMessage, env: Envelope): boolean {
    if (!msg.isRequest || env.hops !== 0) return false;
    this.unicastSockets ??= new Set(this.transport.sockets().filter((s) => s.role === 'unicast').map((s) => s.id));
    return this.unicastSockets.has(env.socketId);
  }
  private unicastSockets: Set<string> | undefined;

  async stop(): Promise<void> {
    this.summary?.stop();
    this.wheel.stop();
    this.drain?.stop();
    await this.admin?.stop();
    this.locationModule?.stop();
    this.auth?.stop();
    await this.cluster?.stop();
    await this.transport.stop();
  }

  /** What can change without a restart (`anysip reload`, SIGHUP): the subscriber file. Throws ConfigError, keeping the old. */
  reload(): Record<string, unknown> {
    const subscribers = this.auth?.reload();
    this.log.info({ subscribers }, 'reloaded');
    return { reloaded: true, ...(subscribers !== undefined ? { subscribers } : {}) };
  }

  /** What `anysip status` and GET /status show. */
  status(): Record<string, unknown> {
    const tm = this.tm?.stats();
    return {
      node: { id: this.config.node.id, name: this.config.node.name, state: this.drain?.state ?? this.cluster?.membership.ownState ?? 'up' },
      uptime_seconds: Math.round((this.clock.now() - this.startedAt) / 1000),
      sockets: this.transport.sockets(),
      transactions: tm,
      registrar: this.location ? { contacts: this.location.size, aors: this.location.aors } : undefined,
      location: this.locationModule?.status(),
      auth: this.auth?.status(),
      transport: this.transport.stats(),
      counters: this.metrics.counters(),
      cluster: this.cluster?.status(),
      drain: this.drain?.status(),
    };
  }

  /** The binding table this node holds (undefined when the registrar is off). */
  get location(): LocationService | undefined {
    return this.locationModule?.service;
  }

  /** The location table's replication (in a cluster). */
  get locationReplica(): Replicator<Binding> | undefined {
    return this.locationModule?.replica;
  }

  get adminAddress(): { address: string; port: number } | undefined {
    return this.admin ? { address: this.config.admin.address, port: this.adminPort } : undefined;
  }
}
