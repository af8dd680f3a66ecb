// One TCP connection, accepted or opened by us: frames incoming bytes, answers
// keep-alive pings, queues writes while connecting, closes when idle.

import type net from 'node:net';
import { TransportError } from '../core/errors.js';
import { formatEndpoint, normalizeAddress } from './address.js';
import { failSend, type TransportContext } from './context.js';
import { StreamFramer } from './stream-framer.js';
import type { Endpoint, SocketSpec } from './types.js';

/** RFC 5626 4.4.1: a CRLFCRLF ping is answered with one CRLF. */
const PONG = Buffer.from('\r\n', 'latin1');

interface Pending {
  data: Buffer;
  onError: ((err: Error) => void) | undefined;
}

export interface ConnectionOwner {
  /** Called once when the connection is closed, to drop it from the registry. */
  connectionClosed(conn: TcpConnection): void;
}

export class TcpConnection {
  readonly id: number;
  /** The local socket this connection belongs to (accepted on it, or opened from its address). */
  readonly spec: SocketSpec;
  readonly remote: Readonly<Endpoint>;
  /** Registry key of the remote endpoint. */
  readonly key: string;
  local: Readonly<Endpoint>;
  closed = false;
  private readonly socket: net.Socket;
  private readonly ctx: TransportContext;
  private readonly owner: ConnectionOwner;
  private readonly framer: StreamFramer;
  /** Writes waiting for the connect to finish; null once connected. */
  private queue: Pending[] | null;
  private lastError: Error | null = null;

  constructor(
    socket: net.Socket,
    spec: SocketSpec,
    remote: Endpoint,
    key: string,
    connecting: boolean,
    ctx: TransportContext,
    owner: ConnectionOwner,
  ) {
    this.id = ctx.nextConnectionId();
    this.socket = socket;
    this.spec = spec;
    this.remote = Object.freeze({ address: remote.address, port: remote.port });
    this.key = key;
    this.ctx = ctx;
    this.owner = owner;
    this.queue = connecting ? [] : null;
    this.local = connecting ? Object.freeze({ address: spec.address, port: 0 }) : this.readLocal();
    this.framer = new StreamFramer({ maxMessageSize: ctx.maxMessageSize });
    this.framer.onMessage = this.onFrame;
    this.framer.onPing = this.onPing;
    ctx.stats.tcpConnections++;

    socket.setNoDelay(true); // SIP messages are complete units: Nagle only adds latency.
    // Node's socket timeout restarts on every read and write: exactly "idle in either direction".
    // It also runs while connecting, so it bounds the connect time too.
    if (ctx.tcpIdleTimeoutMs > 0) socket.setTimeout(ctx.tcpIdleTimeoutMs);
    socket.on('data', this.onData);
    socket.on('timeout', this.onTimeout);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    if (connecting) socket.once('connect', this.onConnect);
  }

  get connecting(): boolean {
    return this.queue !== null;
  }

  /** Sends or queues `data`. Returns false, without side effects, if the connection can no longer carry it. */
  write(data: Buffer, onError: ((err: Error) => void) | undefined): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (this.queue !== null) {
      this.queue.push({ data, onError });
      return true;
    }
    this.socket.write(data, onError === undefined ? this.written : this.writeCallback(onError));
    return true;
  }

  close(): void {
    this.socket.destroy();
  }

  private readLocal(): Readonly<Endpoint> {
    return Object.freeze({
      address: normalizeAddress(this.socket.localAddress ?? this.spec.address),
      port: this.socket.localPort ?? 0,
    });
  }

  private writeCallback(onError: (err: Error) => void): (err?: Error | null) => void {
    const stats = this.ctx.stats;
    const where = formatEndpoint(this.remote.address, this.remote.port);
    return (err) => {
      if (err) failSend(stats, onError, new TransportError(`tcp write to ${where} failed: ${err.message}`));
    };
  }

  // The handlers below are arrow properties: bound once per connection, never per message.

  private readonly written = (err?: Error | null): void => {
    if (err) this.ctx.stats.sendErrors++;
  };

  private readonly onConnect = (): void => {
    this.local = this.readLocal();
    const queue = this.queue!;
    this.queue = null;
    for (const p of queue) this.socket.write(p.data, p.onError === undefined ? this.written : this.writeCallback(p.onError));
  };

  private readonly onData = (chunk: Buffer): void => {
    try {
      this.framer.push(chunk);
    } catch {
      // FramingError (or, defensively, anything else the framer throws on hostile input):
      // nothing after it can be trusted to start on a message boundary.
      this.ctx.stats.framingErrors++;
      this.socket.destroy();
    }
  };

  private readonly onFrame = (message: Buffer): void => {
    this.ctx.deliver(message, {
      transport: 'tcp',
      remote: this.remote,
      local: this.local,
      socketId: this.spec.id,
      connectionId: this.id,
      receivedAt: this.ctx.now(),
      hops: 0,
    });
  };

  private readonly onPing = (): void => {
    this.ctx.stats.keepalives++;
    this.socket.write(PONG);
  };

  private readonly onTimeout = (): void => {
    this.socket.destroy();
  };

  private readonly onError = (err: Error): void => {
    // Reported through the queued writes' onError (connect) or the write callbacks; 'close' follows.
    this.lastError = err;
  };

  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.ctx.stats.tcpConnections--;
    const queue = this.queue;
    this.queue = null;
    if (queue !== null && queue.length > 0) {
      const why = this.lastError?.message ?? 'closed before connecting';
      const err = new TransportError(`tcp connect to ${formatEndpoint(this.remote.address, this.remote.port)} failed: ${why}`);
      for (const p of queue) failSend(this.ctx.stats, p.onError, err);
    }
    this.owner.connectionClosed(this);
  };
}
