// What the layer shares with each listener: counters, clock, limits, the
// upcall and the connection-id source. Kept in one object so a listener holds
// a single reference and the hot path allocates nothing to reach them.

import type { Logger } from '../core/log.js';
import type { ConnectionLimits } from './limits.js';
import type { Envelope } from './types.js';

/** Why a send failed (TransportStats.sendErrorsByReason). */
export type SendErrorReason =
  /** Bad address or port, unknown transport, or no socket of that transport/family. */
  | 'no_route'
  /** The socket or the layer is not open (stopped, or before start). */
  | 'not_open'
  /** No connection to send on: WebSocket (only the peer opens them), or TCP with connectionOnly once it closed. */
  | 'no_connection'
  /** An outgoing TCP connect failed or the connection closed before it was up. */
  | 'connect_failed'
  /** The kernel refused the write, or the connection closed with the write still queued. */
  | 'write_failed'
  /** The connection's send queue would exceed max_send_queue: connection closed. */
  | 'queue_overflow'
  /** The peer did not drain its connection for send_stall_timeout: connection closed. */
  | 'stalled';

export const SEND_ERROR_REASONS: readonly SendErrorReason[] = [
  'no_route', 'not_open', 'no_connection', 'connect_failed', 'write_failed', 'queue_overflow', 'stalled',
];

/** Why the layer closed a stream connection itself (TransportStats.connectionsClosed). */
export type CloseReason = 'message_deadline' | 'idle' | 'framing' | 'too_large' | 'queue_overflow' | 'stalled';

/**
 * Snapshot returned by TransportLayer.stats() (and shown under `transport` in
 * /status). Flat numbers, plus labelled counters as objects keyed by a
 * snake_case label value. Names are stable; src/transport/README.md section 6
 * documents each.
 */
export interface TransportStats {
  /** UDP datagrams received (keep-alives excluded). */
  udpIn: number;
  /** UDP datagrams handed to the kernel. */
  udpOut: number;
  /** TCP connections open now (both directions, including those still connecting). */
  tcpConnections: number;
  /** WebSocket connections open now. */
  wsConnections: number;
  /** Streams closed because they could not be framed (bad or missing Content-Length, over-size, WS protocol errors). */
  framingErrors: number;
  /** CRLF keep-alives received (UDP CRLF datagrams and stream CRLFCRLF pings). */
  keepalives: number;
  /** STUN Binding requests answered on UDP sockets (RFC 5626 keep-alives), and other STUN messages dropped. */
  stunKeepalives: number;
  stunDropped: number;
  /** Sends that failed (onError was called, or would have been). Sum of sendErrorsByReason. */
  sendErrors: number;
  /** Exceptions thrown by onMessage (the layers above), caught so they never reach a socket; logged, rate-limited. */
  handlerErrors: number;
  /** Inbound stream connections (TCP accepted, WS at TCP accept) counted against the caps now. */
  inboundConnections: number;
  /** Inbound stream connections admitted under the caps, since start. */
  connectionsAccepted: number;
  /** Inbound stream connections closed at once for being over a cap, by cap. */
  connectionsRefused: { per_source: number; total: number };
  /** Stream connections the layer closed itself, by reason. */
  connectionsClosed: Record<CloseReason, number>;
  /** Failed sends by reason. */
  sendErrorsByReason: Record<SendErrorReason, number>;
  /** Bytes queued in user space on TCP/WS connections now (before connect, plus kernel-buffer overflow). */
  sendQueueBytes: number;
}

/** The members of TransportStats that are levels now, not counts since start (exported as gauges). */
export const TRANSPORT_GAUGES: readonly (keyof TransportStats)[] = ['tcpConnections', 'wsConnections', 'inboundConnections', 'sendQueueBytes'];

export function newStats(): TransportStats {
  return {
    udpIn: 0,
    udpOut: 0,
    tcpConnections: 0,
    wsConnections: 0,
    framingErrors: 0,
    keepalives: 0,
    stunKeepalives: 0,
    stunDropped: 0,
    sendErrors: 0,
    handlerErrors: 0,
    inboundConnections: 0,
    connectionsAccepted: 0,
    connectionsRefused: { per_source: 0, total: 0 },
    connectionsClosed: { message_deadline: 0, idle: 0, framing: 0, too_large: 0, queue_overflow: 0, stalled: 0 },
    sendErrorsByReason: {
      no_route: 0, not_open: 0, no_connection: 0, connect_failed: 0, write_failed: 0, queue_overflow: 0, stalled: 0,
    },
    sendQueueBytes: 0,
  };
}

/** A deep copy (the labelled counters are objects). */
export function copyStats(s: TransportStats): TransportStats {
  return {
    ...s,
    connectionsRefused: { ...s.connectionsRefused },
    connectionsClosed: { ...s.connectionsClosed },
    sendErrorsByReason: { ...s.sendErrorsByReason },
  };
}

export interface TransportContext {
  readonly stats: TransportStats;
  readonly maxMessageSize: number;
  readonly tcpIdleTimeoutMs: number;
  /** A stream message must arrive whole within this many ms of its first byte; 0 disables. */
  readonly messageDeadlineMs: number;
  /** Bytes a stream connection may hold queued in user space; more closes it. */
  readonly maxSendQueue: number;
  /** A stream connection whose peer has not drained for this many ms is closed; 0 disables. */
  readonly sendStallTimeoutMs: number;
  readonly limits: ConnectionLimits;
  readonly log: Logger | undefined;
  now(): number;
  /** Hands a complete message upward; never throws. */
  deliver(data: Buffer, env: Envelope): void;
  /** Unique across TCP and WS, so a connectionId alone names one connection. */
  nextConnectionId(): number;
}

/** Counts a send failure by reason. */
export function countSendError(stats: TransportStats, reason: SendErrorReason): void {
  stats.sendErrors++;
  stats.sendErrorsByReason[reason]++;
}

/** Reports a send failure: counted, and onError called once, asynchronously (Sender contract). */
export function failSend(
  stats: TransportStats,
  onError: ((err: Error) => void) | undefined,
  err: Error,
  reason: SendErrorReason,
): void {
  countSendError(stats, reason);
  if (onError !== undefined) process.nextTick(onError, err);
}
