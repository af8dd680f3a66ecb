// The transport layer of one node: binds every configured socket, hands each
// received message upward with its Envelope, and sends from the socket a
// destination calls for. Knows nothing of SIP beyond framing.

import { TransportError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { familyOf, formatEndpoint } from './address.js';
import type { Logger } from '../core/log.js';
import { copyStats, failSend, newStats, type TransportContext, type TransportStats } from './context.js';
import { ConnectionLimits, defaultMaxConnections, defaultMaxConnectionsPerSource } from './limits.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from './stream-framer.js';
import { TcpTransport } from './tcp.js';
import { UdpListener } from './udp.js';
import { WsTransport } from './ws.js';
import type { Destination, Envelope, MessageHandler, Sender, SocketSpec } from './types.js';

export interface TransportLayerOptions {
  sockets: SocketSpec[];
  /** TCP connections with no traffic either way for this long are closed. Default 120 000 ms; 0 disables. */
  tcpIdleTimeoutMs?: number;
  /** Largest SIP message accepted on any transport, in bytes. Default 65 536. */
  maxMessageSize?: number;
  /** Source of Envelope.receivedAt. Default: wall clock. */
  clock?: Clock;
  /** A TCP/WS message must arrive whole within this long of its first byte. Default 10 000 ms; 0 disables. */
  messageDeadlineMs?: number;
  /** Inbound TCP+WS connections in total. Default: the soft RLIMIT_NOFILE less a reserve (limits.ts). */
  maxConnections?: number;
  /** Inbound TCP+WS connections per source IP. Default: a tenth of maxConnections, at least 16. */
  maxConnectionsPerSource?: number;
  /** Bytes one TCP/WS connection may queue in user space. Default 262 144. */
  maxSendQueue?: number;
  /** A connection whose peer has not drained its send buffer for this long is closed. Default 30 000 ms; 0 disables. */
  sendStallTimeoutMs?: number;
  /** Where refusals and escaped exceptions are logged (rate-limited). Default: nowhere. */
  log?: Logger;
  /** At most one log line per this interval for escaped exceptions, and per source for refusals. Default 10 000 ms. */
  logIntervalMs?: number;
}

export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 120_000;
export const DEFAULT_MESSAGE_DEADLINE_MS = 10_000;
export const DEFAULT_MAX_SEND_QUEUE = 256 * 1024;
export const DEFAULT_SEND_STALL_TIMEOUT_MS = 30_000;

type State = 'new' | 'starting' | 'running' | 'stopped';

export class TransportLayer implements Sender {
  /** Receives every message read from the network. Exceptions it throws are caught and counted (handlerErrors). */
  onMessage: MessageHandler = () => {};

  private readonly specs: SocketSpec[];
  private readonly clock: Clock;
  private readonly counters: TransportStats = newStats();
  private readonly ctx: TransportContext;
  private readonly udp = new Map<string, UdpListener>();
  private readonly tcp: TcpTransport;
  private readonly ws: WsTransport;
  private state: State = 'new';
  private stopping: Promise<void> | null = null;
  private connectionIds = 0;
  private readonly log: Logger | undefined;
  private readonly logIntervalMs: number;
  /** Escaped exceptions: when the last one was logged, and how many were not logged since. */
  private handlerLoggedAt = -Infinity;
  private handlerSuppressed = 0;

  constructor(opts: TransportLayerOptions) {
    const ids = new Set<string>();
    for (const s of opts.sockets) {
      if (ids.has(s.id)) throw new TransportError(`duplicate socket id '${s.id}'`);
      ids.add(s.id);
      if (familyOf(s.address) === 0) throw new TransportError(`socket '${s.id}': '${s.address}' is not an IP address`);
      if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535) {
        throw new TransportError(`socket '${s.id}': invalid port ${s.port}`);
      }
    }
    // Copies: start() fills in bound ports without touching the caller's objects.
    this.specs = opts.sockets.map((s) => ({ ...s }));
    this.clock = opts.clock ?? systemClock;
    const stats = this.counters;
    const clock = this.clock;
    this.log = opts.log;
    this.logIntervalMs = opts.logIntervalMs ?? 10_000;
    const maxConnections = opts.maxConnections ?? defaultMaxConnections();
    const maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    const maxSendQueue = opts.maxSendQueue ?? Math.max(DEFAULT_MAX_SEND_QUEUE, maxMessageSize);
    if (maxSendQueue < maxMessageSize) {
      throw new TransportError(`maxSendQueue (${maxSendQueue}) must hold at least one message of maxMessageSize (${maxMessageSize})`);
    }
    this.ctx = {
      stats,
      maxMessageSize,
      tcpIdleTimeoutMs: opts.tcpIdleTimeoutMs ?? DEFAULT_TCP_IDLE_TIMEOUT_MS,
      messageDeadlineMs: opts.messageDeadlineMs ?? DEFAULT_MESSAGE_DEADLINE_MS,
      maxSendQueue,
      sendStallTimeoutMs: opts.sendStallTimeoutMs ?? DEFAULT_SEND_STALL_TIMEOUT_MS,
      limits: new ConnectionLimits(
        {
          maxConnections,
          maxConnectionsPerSource: opts.maxConnectionsPerSource ?? defaultMaxConnectionsPerSource(maxConnections),
          logIntervalMs: this.logIntervalMs,
          log: opts.log,
        },
        stats.connectionsRefused,
      ),
      log: opts.log,
      now: () => clock.now(),
      deliver: (data: Buffer, env: Envelope) => this.deliver(data, env),
      nextConnectionId: () => ++this.connectionIds,
    };
    this.tcp = new TcpTransport(this.ctx, (dest) => this.socketFor(dest));
    this.ws = new WsTransport(this.ctx);
  }

  /** Binds every socket. Rejects with a TransportError naming the socket if any bind fails (the others are closed again). */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new TransportError(`transport layer cannot start: it is ${this.state}`);
    this.state = 'starting';
    try {
      // One at a time, so port-0 sockets are bound in configuration order and errors name the first culprit.
      for (const spec of this.specs) {
        let port: number;
        if (spec.transport === 'udp') {
          const listener = new UdpListener(spec, this.ctx);
          port = await listener.start();
          this.udp.set(spec.id, listener);
        } else if (spec.transport === 'tcp') {
          port = await this.tcp.listen(spec);
        } else {
          port = await this.ws.listen(spec);
        }
        spec.port = port;
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.state = 'running';
  }

  /** Closes every listener and connection. Idempotent; safe before start(). */
  stop(): Promise<void> {
    if (this.stopping === null) {
      this.state = 'stopped';
      this.stopping = Promise.all([
        ...[...this.udp.values()].map((l) => l.stop()),
        this.tcp.stop(),
        this.ws.stop(),
      ]).then(() => {});
    }
    return this.stopping;
  }

  /** The configured sockets; after start(), with the ports actually bound. */
  sockets(): SocketSpec[] {
    return this.specs.map((s) => ({ ...s }));
  }

  send(data: Buffer, dest: Destination, onError?: (err: Error) => void): void {
    if (familyOf(dest.address) === 0 || !Number.isInteger(dest.port) || dest.port <= 0 || dest.port > 65535) {
      // Name resolution belongs above this layer; a bad destination must not reach a socket call that throws.
      failSend(this.counters, onError, new TransportError(`invalid destination ${formatEndpoint(dest.address, dest.port)}`), 'no_route');
      return;
    }
    switch (dest.transport) {
      case 'udp': {
        let spec: SocketSpec;
        try {
          spec = this.socketFor(dest);
        } catch (err) {
          failSend(this.counters, onError, err as Error, 'no_route');
          return;
        }
        const listener = this.udp.get(spec.id);
        if (listener === undefined) {
          failSend(this.counters, onError, new TransportError(`socket '${spec.id}' is not open`), 'not_open');
          return;
        }
        listener.send(data, dest, onError);
        return;
      }
      case 'tcp':
        this.tcp.send(data, dest, onError);
        return;
      case 'ws':
        this.ws.send(data, dest, onError);
        return;
      default:
        failSend(this.counters, onError, new TransportError(`unknown transport '${String(dest.transport)}'`), 'no_route');
    }
  }

  /**
   * dest.socketId when it names a socket of dest.transport; else the first
   * socket of that transport in dest.address's family (an IPv6 wildcard '::'
   * socket, being dual-stack, also serves IPv4 when no IPv4 socket exists).
   */
  socketFor(dest: Destination): SocketSpec {
    if (dest.socketId !== undefined) {
      const s = this.specs.find((x) => x.id === dest.socketId);
      if (s !== undefined && s.transport === dest.transport) return s;
    }
    const family = familyOf(dest.address);
    let dualStack: SocketSpec | undefined;
    for (const s of this.specs) {
      if (s.transport !== dest.transport) continue;
      if (familyOf(s.address) === family) return s;
      if (family === 4 && dualStack === undefined && s.address === '::') dualStack = s;
    }
    if (dualStack !== undefined) return dualStack;
    throw new TransportError(
      `no ${dest.transport} socket for IPv${family === 0 ? '?' : family} destination ${dest.address}` +
        (dest.socketId !== undefined ? ` (socket '${dest.socketId}' not found or not ${dest.transport})` : ''),
    );
  }

  /** The caps in force (configured, or derived from the fd limit). */
  limits(): { maxConnections: number; maxConnectionsPerSource: number } {
    const l = this.ctx.limits;
    return { maxConnections: l.maxConnections, maxConnectionsPerSource: l.maxConnectionsPerSource };
  }

  /** A snapshot of every counter (README section 6); a copy the caller may keep. */
  stats(): TransportStats {
    const s = copyStats(this.counters);
    s.inboundConnections = this.ctx.limits.count;
    s.sendQueueBytes = this.tcp.queuedBytes() + this.ws.queuedBytes();
    return s;
  }

  private deliver(data: Buffer, env: Envelope): void {
    try {
      this.onMessage(data, env);
    } catch (err) {
      // An upper-layer bug must not take a socket down with it; counted, and logged without flooding the log.
      this.counters.handlerErrors++;
      this.logEscaped(err, env);
    }
  }

  private logEscaped(err: unknown, env: Envelope): void {
    if (this.log === undefined) return;
    const t = this.clock.now();
    if (t - this.handlerLoggedAt < this.logIntervalMs) {
      this.handlerSuppressed++;
      return;
    }
    const suppressed = this.handlerSuppressed;
    this.handlerLoggedAt = t;
    this.handlerSuppressed = 0;
    this.log.error(
      {
        // Spelled out: the node's bunyan logger has no serializers, and an Error would log as {}.
        error: err instanceof Error ? err.message : String(err),
        stack: err instanceof Error ? err.stack : undefined,
        transport: env.transport,
        remote: formatEndpoint(env.remote.address, env.remote.port),
        socket_id: env.socketId,
        suppressed_since_last_line: suppressed,
        handler_errors: this.counters.handlerErrors,
      },
      'exception escaped from the layers above the transport (message dropped)',
    );
  }
}
