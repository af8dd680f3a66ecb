// What the layer shares with each listener: counters, clock, the upcall and
// the connection-id source. Kept in one object so a listener holds a single
// reference and the hot path allocates nothing to reach them.

import type { Envelope } from './types.js';

/** Counters reported by TransportLayer.stats(). */
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
  /** Sends that failed (onError was called, or would have been). */
  sendErrors: number;
  /** Exceptions thrown by onMessage, caught so they never reach a socket. */
  handlerErrors: number;
}

export function newStats(): TransportStats {
  return {
    udpIn: 0,
    udpOut: 0,
    tcpConnections: 0,
    wsConnections: 0,
    framingErrors: 0,
    keepalives: 0,
    sendErrors: 0,
    handlerErrors: 0,
  };
}

export interface TransportContext {
  readonly stats: TransportStats;
  readonly maxMessageSize: number;
  readonly tcpIdleTimeoutMs: number;
  now(): number;
  /** Hands a complete message upward; never throws. */
  deliver(data: Buffer, env: Envelope): void;
  /** Unique across TCP and WS, so a connectionId alone names one connection. */
  nextConnectionId(): number;
}

/** Reports a send failure: counted, and onError called once, asynchronously (Sender contract). */
export function failSend(stats: TransportStats, onError: ((err: Error) => void) | undefined, err: Error): void {
  stats.sendErrors++;
  if (onError !== undefined) process.nextTick(onError, err);
}
