// One TCP connection, accepted or opened by us: frames incoming bytes, answers
// keep-alive pings, queues writes while connecting, closes when idle, when a
// message takes longer than the deadline to arrive, or when the peer does not
// read (send queue over its bound, or no drain for the stall timeout).

import type net from 'node:net';
import { MessageTooLargeError, TransportError } from '../core/errors.js';
import { formatEndpoint, normalizeAddress } from './address.js';
import { countSendError, failSend, type CloseReason, type SendErrorReason, type TransportContext } from './context.js';
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
  /** Bytes in `queue`. */
  private queueBytes = 0;
  private lastError: Error | null = null;
  /** Set when the layer closes the connection itself; failed writes are counted under it. */
  private closeReason: CloseReason | null = null;
  /** Runs while a message is partly received (message deadline). */
  private deadlineTimer: NodeJS.Timeout | null = null;
  /** Runs while the kernel buffer is full and the peer has not drained (stall timeout). */
  private stallTimer: NodeJS.Timeout | null = null;
  /** Runs after a half-close (too_large): the peer's rest is read and dropped until it closes or this fires. */
  private lingerTimer: NodeJS.Timeout | null = null;
  /** Accepted by a listener (counted against the connection caps, released on close). */
  readonly inbound: boolean;

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
    this.inbound = !connecting;
    this.local = connecting ? Object.freeze({ address: spec.address, port: 0 }) : this.readLocal();
    this.framer = new StreamFramer({ maxMessageSize: ctx.maxMessageSize });
    this.framer.onMessage = this.onFrame;
    this.framer.onPing = this.onPing;
    this.framer.onOversize = this.onOversize;
    ctx.stats.tcpConnections++;

    socket.setNoDelay(true); // SIP messages are complete units: Nagle only adds latency.
    // Node's socket timeout restarts on every read and write: exactly "idle in either direction".
    // It also runs while connecting, so it bounds the connect time too.
    if (ctx.tcpIdleTimeoutMs > 0) socket.setTimeout(ctx.tcpIdleTimeoutMs);
    socket.on('data', this.onData);
    socket.on('timeout', this.onTimeout);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    if (connecting) socket.once('connect', this.onConnect);
  }

  /** Bytes held in user space for this connection: queued before connect, plus what the kernel did not take yet. */
  get queuedBytes(): number {
    return this.queueBytes + this.socket.writableLength;
  }

  get connecting(): boolean {
    return this.queue !== null;
  }

  /** Sends or queues `data`. Returns false, without side effects, if the connection can no longer carry it. */
  write(data: Buffer, onError: ((err: Error) => void) | undefined): boolean {
    // Half-closed (too_large): a new connection must carry it.
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return false;
    if (this.queuedBytes + data.length > this.ctx.maxSendQueue) {
      // The peer is not reading: opening another connection to it would only multiply the memory held.
      failSend(this.ctx.stats, onError, this.error(`send queue full (${this.queuedBytes} bytes queued, max ${this.ctx.maxSendQueue})`), 'queue_overflow');
      this.closeWith('queue_overflow');
      return true;
    }
    if (this.queue !== null) {
      this.queue.push({ data, onError });
      this.queueBytes += data.length;
      return true;
    }
    this.push(data, onError);
    return true;
  }

  close(): void {
    this.socket.destroy();
  }

  /** Closes the connection for `reason`, counted once. */
  closeWith(reason: CloseReason): void {
    if (this.closed || this.closeReason !== null) return;
    this.closeReason = reason;
    this.ctx.stats.connectionsClosed[reason]++;
    this.socket.destroy();
  }

  /**
   * Half-closes for `reason`, counted once: what was written goes out, then FIN. The peer's further
   * bytes are read and dropped (closing with unread data would send a RST, which may destroy the
   * response in flight) until it closes, or for at most the message deadline (10 s when disabled).
   */
  endWith(reason: CloseReason): void {
    if (this.closed || this.closeReason !== null) return;
    this.closeReason = reason;
    this.ctx.stats.connectionsClosed[reason]++;
    this.clearDeadline();
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), this.ctx.messageDeadlineMs || 10_000);
    this.lingerTimer.unref();
  }

  private clearDeadline(): void {
    if (this.deadlineTimer !== null) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = null;
    }
  }

  private push(data: Buffer, onError: ((err: Error) => void) | undefined): void {
    const flushed = this.socket.write(data, onError === undefined ? this.written : this.writeCallback(onError));
    // write() returning false: the kernel buffer is full and the rest waits in user space until 'drain'.
    if (!flushed && this.stallTimer === null && this.ctx.sendStallTimeoutMs > 0) {
      this.stallTimer = setTimeout(this.onStall, this.ctx.sendStallTimeoutMs);
      this.stallTimer.unref();
    }
  }

  private error(what: string): TransportError {
    return new TransportError(`tcp send to ${formatEndpoint(this.remote.address, this.remote.port)}: ${what}`);
  }

  /** A write that failed after it was accepted: counted under the reason the layer closed the connection for, if any. */
  private failedReason(): SendErrorReason {
    return this.closeReason === 'queue_overflow' || this.closeReason === 'stalled' ? this.closeReason : 'write_failed';
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
      if (!err) return;
      const why = this.closeReason === null ? err.message : `connection closed (${this.closeReason})`;
      failSend(stats, onError, new TransportError(`tcp write to ${where} failed: ${why}`), this.failedReason());
    };
  }

  // The handlers below are arrow properties: bound once per connection, never per message.

  private readonly written = (err?: Error | null): void => {
    if (err) countSendError(this.ctx.stats, this.failedReason());
  };

  private readonly onConnect = (): void => {
    this.local = this.readLocal();
    const queue = this.queue!;
    this.queue = null;
    this.queueBytes = 0;
    for (const p of queue) this.push(p.data, p.onError);
  };

  private readonly onDrain = (): void => {
    if (this.stallTimer !== null) {
      clearTimeout(this.stallTimer);
      this.stallTimer = null;
    }
  };

  private readonly onStall = (): void => {
    this.stallTimer = null;
    this.closeWith('stalled');
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.closeReason === 'too_large') return; // half-closed: the rest of an over-size body is dropped
    try {
      this.framer.push(chunk);
    } catch (err) {
      // Over-size: onOversize has handed the headers up (the 513 is written by now); the rest of the
      // stream cannot be framed, so finish politely.
      if (err instanceof MessageTooLargeError) {
        this.endWith('too_large');
        return;
      }
      // FramingError (or, defensively, anything else the framer throws on hostile input):
      // nothing after it can be trusted to start on a message boundary.
      this.ctx.stats.framingErrors++;
      this.closeWith('framing');
      return;
    }
    // A message has begun and not ended: it must end within the deadline, however the bytes trickle in.
    if (this.deadlineTimer === null && this.framer.buffered > 0 && this.ctx.messageDeadlineMs > 0 && !this.closed) {
      this.deadlineTimer = setTimeout(this.onDeadline, this.ctx.messageDeadlineMs);
      this.deadlineTimer.unref();
    }
  };

  private readonly onDeadline = (): void => {
    this.deadlineTimer = null;
    this.closeWith('message_deadline');
  };

  private readonly onFrame = (message: Buffer): void => {
    this.clearDeadline();
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

  /** The header section of a message over maxMessageSize: handed up flagged, for a 513 (src/node/ingress.ts). */
  private readonly onOversize = (headers: Buffer, size: number): void => {
    this.clearDeadline();
    this.ctx.deliver(headers, {
      transport: 'tcp',
      remote: this.remote,
      local: this.local,
      socketId: this.spec.id,
      connectionId: this.id,
      receivedAt: this.ctx.now(),
      hops: 0,
      oversize: size,
    });
  };

  private readonly onPing = (): void => {
    this.ctx.stats.keepalives++;
    this.socket.write(PONG);
  };

  private readonly onTimeout = (): void => {
    this.closeWith('idle');
  };

  private readonly onError = (err: Error): void => {
    // Reported through the queued writes' onError (connect) or the write callbacks; 'close' follows.
    this.lastError = err;
  };

  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.ctx.stats.tcpConnections--;
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.deadlineTimer = this.stallTimer = this.lingerTimer = null;
    if (this.inbound) this.ctx.limits.release(this.remote.address);
    const queue = this.queue;
    this.queue = null;
    this.queueBytes = 0;
    if (queue !== null && queue.length > 0) {
      const why = this.closeReason !== null ? `closed (${this.closeReason})` : (this.lastError?.message ?? 'closed before connecting');
      const err = new TransportError(`tcp connect to ${formatEndpoint(this.remote.address, this.remote.port)} failed: ${why}`);
      const reason = this.closeReason === null ? 'connect_failed' : this.failedReason();
      for (const p of queue) failSend(this.ctx.stats, p.onError, err, reason);
    }
    this.owner.connectionClosed(this);
  };
}
