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
import { loadRouteHook } from '../proxy/route-hook.js';
import { Registrar } from '../registrar/registrar.js';
import { TransactionLayer } from '../tm/layer.js';
import { TimerWheel } from '../tm/timer-wheel.js';
import { TransportLayer } from '../transport/layer.js';
import type { SocketSpec } from '../transport/types.js';
import { Ingress } from './ingress.js';

export interface NodeOptions {
  log?: Logger;
  clock?: Clock;
}

export class Node {
  readonly log: Logger;
  readonly metrics = new Metrics();
  readonly transport: TransportLayer;
  readonly wheel: TimerWheel;
  readonly registrar: Registrar | undefined;
  tm!: TransactionLayer;
  proxy!: Proxy;
  private admin: AdminServer | undefined;
  private ingress: Ingress | undefined;
  private adminPort = 0;
  private readonly clock: Clock;
  private readonly startedAt: number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(readonly config: Config, opts: NodeOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.log = opts.log ?? createLogger({ name: config.node.name, level: config.log.level, nodeId: config.node.id });
    this.transport = new TransportLayer({
      sockets: config.listen.map((l): SocketSpec => ({ ...l })),
      tcpIdleTimeoutMs: config.transport.tcp_idle_timeout * 1000,
      maxMessageSize: config.transport.max_message_size,
      clock: this.clock,
    });
    this.wheel = new TimerWheel({ now: this.clock.now() });
    this.registrar = config.registrar.enabled ? new Registrar(config.registrar) : undefined;
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
    const branchSecret = c.node.branch_secret || randomBytes(16);
    this.proxy = new Proxy({
      nodeId: c.node.id,
      tm: {
        request: (req, dest, handler, opts) => this.tm.request(req, dest, handler, opts),
        decodeBranch: (branch) => this.tm.decodeBranch(branch),
        sendStateless: (req, dest) => this.tm.sendStateless(req, dest),
        sendResponseStateless: (res) => this.tm.sendResponseStateless(res),
        ownsBranch: (branch) => this.tm.ownsBranch(branch),
      },
      sender: this.transport,
      sockets: () => this.transport.sockets(),
      local: new LocalAddresses(sockets, c.proxy.domains),
      flows: new FlowTokens(branchSecret),
      registrar: this.registrar,
      routes: c.routes,
      hook,
      settings: c.proxy,
      clock: this.clock,
      counters,
      log: this.log,
    });
    this.tm = new TransactionLayer({
      nodeId: c.node.id,
      branchSecret,
      timers: { t1: c.timers.t1, t2: c.timers.t2, t4: c.timers.t4, timerC: c.timers.timer_c },
      clock: this.clock,
      wheel: this.wheel,
      sender: this.transport,
      user: this.proxy,
    });
    this.ingress = new Ingress({
      sender: this.transport,
      counters,
      log: this.log,
      next: (msg, env) => this.tm.receive(msg, env),
    });
    this.wheel.start(this.clock, 10);
    if (this.registrar) {
      const registrar = this.registrar;
      this.sweepTimer = setInterval(() => registrar.store.sweep(this.clock.now()), 1000);
      this.sweepTimer.unref();
    }
    this.metrics.setGauges(() => {
      const tm = this.tm.stats();
      return {
        serverTransactions: tm.serverTransactions,
        clientTransactions: tm.clientTransactions,
        registrarContacts: this.registrar?.store.size ?? 0,
      };
    });
    if (c.admin.enabled) {
      this.admin = new AdminServer({
        address: c.admin.address,
        port: c.admin.port,
        metrics: this.metrics,
        status: () => this.status(),
      });
      this.adminPort = await this.admin.start();
    }
    this.log.info(
      { sockets: sockets.map((s) => `${s.transport}:${s.address}:${s.port}`), admin: this.adminPort || undefined },
      'anysip node started',
    );
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.wheel.stop();
    await this.admin?.stop();
    await this.transport.stop();
  }

  /** What `anysip status` and GET /status show. */
  status(): Record<string, unknown> {
    const tm = this.tm?.stats();
    return {
      node: { id: this.config.node.id, name: this.config.node.name, state: 'up' },
      uptime_seconds: Math.round((this.clock.now() - this.startedAt) / 1000),
      sockets: this.transport.sockets(),
      transactions: tm,
      registrar: this.registrar ? { contacts: this.registrar.store.size, aors: this.registrar.store.aors } : undefined,
      transport: this.transport.stats(),
      counters: this.metrics.counters(),
    };
  }

  get adminAddress(): { address: string; port: number } | undefined {
    return this.admin ? { address: this.config.admin.address, port: this.adminPort } : undefined;
  }
}
