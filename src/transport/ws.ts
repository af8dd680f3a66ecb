// SIP over WebSocket (RFC 7118). Each WebSocket message is exactly one SIP
// message, so no stream framing; `ws` handles fragmentation, masking and
// ping/pong. We only accept the 'sip' subprotocol, and can only send on a
// connection the client opened (browsers cannot accept connections).

import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { TransportError } from '../core/errors.js';
import { canonicalAddress, endpointKey, familyOf, formatEndpoint, normalizeAddress } from './address.js';
import { bindError } from './bind-error.js';
import { failSend, type CloseReason, type TransportContext } from './context.js';
import type { Destination, Endpoint, SocketSpec } from './types.js';

const SUBPROTOCOL = 'sip';
const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;
const REFUSED = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
/** The handshake deadline timer, kept on the raw socket until the upgrade. */
const HANDSHAKE = Symbol('anysip.wsHandshake');

/** True when the Sec-WebSocket-Protocol header offers 'sip' (a comma-separated token list). */
function offersSip(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const token of header.split(',')) if (token.trim() === SUBPROTOCOL) return true;
  return false;
}

function isKeepalive(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0x0d && data[i] !== 0x0a) return false;
  return true;
}

export class WsConnection {
  readonly id: number;
  readonly spec: SocketSpec;
  readonly remote: Readonly<Endpoint>;
  readonly local: Readonly<Endpoint>;
  readonly key: string;
  readonly ws: WebSocket;
  /** Reply in the frame type the peer last used: text normally, binary when it sends binary bodies. */
  binary = false;
  /** The TCP socket under the WebSocket (its write buffer is what a non-reading peer fills). */
  readonly socket: net.Socket;
  /** Runs while a frame is partly received (message deadline). */
  deadlineTimer: NodeJS.Timeout | null = null;
  /** Runs while the kernel buffer is full and the peer has not drained. */
  stallTimer: NodeJS.Timeout | null = null;
  closeReason: CloseReason | null = null;
  /** The idle timeout passed once and a ping went out: the next silent period closes the connection. */
  pinged = false;

  constructor(id: number, spec: SocketSpec, ws: WebSocket, socket: net.Socket, remote: Endpoint, local: Endpoint) {
    this.id = id;
    this.spec = spec;
    this.ws = ws;
    this.socket = socket;
    this.remote = Object.freeze(remote);
    this.local = Object.freeze(local);
    this.key = endpointKey(remote.address, remote.port);
  }

  clearDeadline(): void {
    if (this.deadlineTimer !== null) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = null;
    }
  }

  clearStall(): void {
    if (this.stallTimer !== null) {
      clearTimeout(this.stallTimer);
      this.stallTimer = null;
    }
  }
}

/** Closes `conn` for `reason`, counted once. */
function closeWith(ctx: TransportContext, conn: WsConnection, reason: CloseReason): void {
  if (conn.closeReason !== null) return;
  conn.closeReason = reason;
  ctx.stats.connectionsClosed[reason]++;
  conn.ws.terminate();
}

export class WsTransport {
  private readonly ctx: TransportContext;
  private readonly servers: { http: http.Server; wss: WebSocketServer }[] = [];
  private readonly byId = new Map<number, WsConnection>();
  private readonly byRemote = new Map<string, WsConnection>();

  constructor(ctx: TransportContext) {
    this.ctx = ctx;
  }

  listen(spec: SocketSpec): Promise<number> {
    if (familyOf(spec.address) === 0) {
      return Promise.reject(new TransportError(`socket '${spec.id}': '${spec.address}' is not an IP address`));
    }
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.ctx.maxMessageSize,
      handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    const server = http.createServer((_req, res) => {
      // Plain HTTP on a SIP WebSocket port: tell the client what is spoken here.
      res.writeHead(426, { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': SUBPROTOCOL, 'Content-Length': '0' });
      res.end();
    });
    server.on('connection', (socket: net.Socket) => this.admit(socket));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {}); // a reset during the handshake must not crash the node
      const handshake = (socket as net.Socket & { [HANDSHAKE]?: NodeJS.Timeout })[HANDSHAKE];
      if (handshake !== undefined) clearTimeout(handshake);
      if (!offersSip(req.headers['sec-websocket-protocol'])) {
        // RFC 7118 4.1: the handshake must negotiate 'sip'; without it there is no SIP here.
        socket.end(REFUSED);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => this.accept(spec, ws, req));
    });
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error): void => {
        server.close();
        reject(bindError(spec, err));
      };
      server.once('error', onBindError);
      server.listen({ host: spec.address, port: spec.port, exclusive: true }, () => {
        server.off('error', onBindError);
        server.on('error', () => {});
        this.servers.push({ http: server, wss });
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  connections(): WsConnection[] {
    return [...this.byId.values()];
  }

  /** Bytes held in user space by every connection (O(connections): for snapshots). */
  queuedBytes(): number {
    let n = 0;
    for (const c of this.byId.values()) n += c.ws.bufferedAmount;
    return n;
  }

  /**
   * Every TCP connection to a WS port counts against the caps from accept on,
   * and must finish its HTTP upgrade within the message deadline.
   */
  private admit(socket: net.Socket): void {
    socket.on('error', () => {});
    const remote = socket.remoteAddress;
    if (remote === undefined) {
      socket.destroy();
      return;
    }
    const address = normalizeAddress(remote);
    if (!this.ctx.limits.admit(address)) {
      socket.destroy();
      return;
    }
    this.ctx.stats.connectionsAccepted++;
    socket.once('close', () => this.ctx.limits.release(address));
    if (this.ctx.messageDeadlineMs > 0) {
      const timer = setTimeout(() => {
        if (socket.destroyed) return;
        this.ctx.stats.connectionsClosed.message_deadline++;
        socket.destroy();
      }, this.ctx.messageDeadlineMs);
      timer.unref();
      (socket as net.Socket & { [HANDSHAKE]?: NodeJS.Timeout })[HANDSHAKE] = timer;
      socket.once('close', () => clearTimeout(timer));
    }
  }

  send(data: Buffer, dest: Destination, onError?: (err: Error) => void): void {
    let conn: WsConnection | undefined;
    if (dest.connectionId !== undefined) conn = this.byId.get(dest.connectionId);
    if (conn === undefined || conn.ws.readyState !== conn.ws.OPEN) {
      conn = this.byRemote.get(endpointKey(canonicalAddress(dest.address), dest.port));
    }
    if (conn === undefined || conn.ws.readyState !== conn.ws.OPEN) {
      failSend(
        this.ctx.stats,
        onError,
        new TransportError(`no WebSocket connection to ${formatEndpoint(dest.address, dest.port)}`),
        'no_connection',
      );
      return;
    }
    const ctx = this.ctx;
    const stats = ctx.stats;
    const queued = conn.ws.bufferedAmount;
    if (queued + data.length > ctx.maxSendQueue) {
      failSend(
        stats,
        onError,
        new TransportError(`ws send to ${formatEndpoint(dest.address, dest.port)}: send queue full (${queued} bytes queued, max ${ctx.maxSendQueue})`),
        'queue_overflow',
      );
      closeWith(ctx, conn, 'queue_overflow');
      return;
    }
    const c = conn;
    conn.ws.send(data, conn.binary ? BINARY : TEXT, (err?: Error) => {
      if (!err) return;
      const reason = c.closeReason === 'queue_overflow' || c.closeReason === 'stalled' ? c.closeReason : 'write_failed';
      const err2 = new TransportError(`ws send to ${formatEndpoint(dest.address, dest.port)} failed: ${err.message}`);
      failSend(stats, onError, err2, reason);
    });
    // The kernel buffer is full: the peer must drain within the stall timeout.
    if (conn.socket.writableNeedDrain && conn.stallTimer === null && ctx.sendStallTimeoutMs > 0) {
      conn.stallTimer = setTimeout(() => {
        c.stallTimer = null;
        closeWith(ctx, c, 'stalled');
      }, ctx.sendStallTimeoutMs);
      conn.stallTimer.unref();
    }
  }

  async stop(): Promise<void> {
    for (const conn of this.byId.values()) conn.ws.terminate();
    const servers = this.servers.splice(0);
    await Promise.all(
      servers.map(
        ({ http: server, wss }) =>
          new Promise<void>((resolve) => {
            wss.close();
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
  }

  private accept(spec: SocketSpec, ws: WebSocket, req: http.IncomingMessage): void {
    const s = req.socket;
    if (s.remoteAddress === undefined || s.remotePort === undefined) {
      ws.terminate();
      return;
    }
    const remote = { address: normalizeAddress(s.remoteAddress), port: s.remotePort };
    const local = { address: normalizeAddress(s.localAddress ?? spec.address), port: s.localPort ?? 0 };
    const conn = new WsConnection(this.ctx.nextConnectionId(), spec, ws, s, remote, local);
    this.byId.set(conn.id, conn);
    this.byRemote.set(conn.key, conn);
    this.ctx.stats.wsConnections++;
    const ctx = this.ctx;
    // One closure per connection (it needs `conn`), none per message.
    // Message deadline: prepended, so it runs before ws parses the chunk; a frame completed by
    // this chunk then clears the timer in 'message' / 'ping' / 'pong'. A chunk ending a frame
    // and starting another clears it too (the peer is making progress; the next chunk re-arms it).
    s.prependListener('data', () => {
      conn.pinged = false;
    });
    if (ctx.messageDeadlineMs > 0) {
      s.prependListener('data', () => {
        if (conn.deadlineTimer !== null) return;
        conn.deadlineTimer = setTimeout(() => {
          conn.deadlineTimer = null;
          closeWith(ctx, conn, 'message_deadline');
        }, ctx.messageDeadlineMs);
        conn.deadlineTimer.unref();
      });
      const progress = (): void => conn.clearDeadline();
      ws.on('ping', progress);
      ws.on('pong', progress);
    }
    s.on('drain', () => conn.clearStall());
    // Idle in either direction (Node's socket timeout restarts on every read and write): first a
    // ping, which any live WebSocket peer (a browser too) answers; silent again: closed. A dead
    // peer or a connection opened only to hold a slot is gone after twice the idle timeout.
    if (ctx.tcpIdleTimeoutMs > 0) {
      s.setTimeout(ctx.tcpIdleTimeoutMs);
      s.on('timeout', () => {
        if (conn.pinged) {
          closeWith(ctx, conn, 'idle');
          return;
        }
        conn.pinged = true;
        try {
          ws.ping();
        } catch {
          closeWith(ctx, conn, 'idle');
        }
      });
    }
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      conn.clearDeadline();
      const data = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
      if (isKeepalive(data)) {
        ctx.stats.keepalives++;
        return;
      }
      conn.binary = isBinary;
      ctx.deliver(data, {
        transport: 'ws',
        remote: conn.remote,
        local: conn.local,
        socketId: spec.id,
        connectionId: conn.id,
        receivedAt: ctx.now(),
        hops: 0,
      });
    });
    // Protocol violations and over-size messages (maxPayload): ws closes the connection itself.
    ws.on('error', () => {
      ctx.stats.framingErrors++;
    });
    ws.on('close', () => {
      conn.clearDeadline();
      conn.clearStall();
      ctx.stats.wsConnections--;
      this.byId.delete(conn.id);
      if (this.byRemote.get(conn.key) === conn) this.byRemote.delete(conn.key);
    });
  }
}
