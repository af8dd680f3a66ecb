// TCP listeners plus the registry of every open TCP connection, accepted or
// opened by us. Sends reuse a connection to the same remote endpoint whatever
// its direction (RFC 3261 18.2.2 / 18.1.1), and open one only when none exists.

import net from 'node:net';
import { TransportError } from '../core/errors.js';
import { canonicalAddress, endpointKey, familyOf, isWildcard, normalizeAddress } from './address.js';
import { bindError } from './bind-error.js';
import { failSend, type TransportContext } from './context.js';
import { TcpConnection, type ConnectionOwner } from './tcp-connection.js';
import type { Destination, SocketSpec } from './types.js';

export class TcpTransport implements ConnectionOwner {
  private readonly ctx: TransportContext;
  /** Picks the local socket for a new outgoing connection (TransportLayer.socketFor); may throw TransportError. */
  private readonly specFor: (dest: Destination) => SocketSpec;
  private readonly servers: net.Server[] = [];
  private readonly byId = new Map<number, TcpConnection>();
  /** Remote endpoint key -> open connections to it (usually one). */
  private readonly byRemote = new Map<string, TcpConnection[]>();
  private stopping = false;

  constructor(ctx: TransportContext, specFor: (dest: Destination) => SocketSpec) {
    this.ctx = ctx;
    this.specFor = specFor;
  }

  /** Binds a listener for `spec`; resolves with the bound port. */
  listen(spec: SocketSpec): Promise<number> {
    if (familyOf(spec.address) === 0) {
      return Promise.reject(new TransportError(`socket '${spec.id}': '${spec.address}' is not an IP address`));
    }
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.accept(spec, socket));
      const onBindError = (err: Error): void => {
        server.close();
        reject(bindError(spec, err));
      };
      server.once('error', onBindError);
      server.listen({ host: spec.address, port: spec.port, exclusive: true }, () => {
        server.off('error', onBindError);
        // A listening server only errors on accept failures (e.g. EMFILE); they must not crash the node.
        server.on('error', () => {});
        this.servers.push(server);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** Open connections, for tests and the admin API. */
  connections(): TcpConnection[] {
    return [...this.byId.values()];
  }

  /** Bytes held in user space by every connection (O(connections): for snapshots, not the hot path). */
  queuedBytes(): number {
    let n = 0;
    for (const c of this.byId.values()) n += c.queuedBytes;
    return n;
  }

  send(data: Buffer, dest: Destination, onError?: (err: Error) => void): void {
    // 1. The connection the request came on (responses, RFC 3261 18.2.2).
    if (dest.connectionId !== undefined) {
      const conn = this.byId.get(dest.connectionId);
      if (conn !== undefined && conn.write(data, onError)) return;
      if (dest.connectionOnly) {
        failSend(this.ctx.stats, onError, new TransportError('the connection to this destination is gone'), 'no_connection');
        return;
      }
    }
    // 2. Any open connection to that endpoint, else 3. a new one.
    const address = canonicalAddress(dest.address);
    const key = endpointKey(address, dest.port);
    const existing = this.pick(key, dest.socketId);
    if (existing !== undefined && existing.write(data, onError)) return;
    let spec: SocketSpec;
    try {
      spec = this.specFor(dest);
    } catch (err) {
      failSend(this.ctx.stats, onError, err as Error, 'no_route');
      return;
    }
    if (this.stopping) {
      failSend(this.ctx.stats, onError, new TransportError('transport layer is stopped'), 'not_open');
      return;
    }
    this.connect(spec, address, dest.port, key).write(data, onError);
  }

  connectionClosed(conn: TcpConnection): void {
    this.byId.delete(conn.id);
    const list = this.byRemote.get(conn.key);
    if (list === undefined) return;
    const i = list.indexOf(conn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byRemote.delete(conn.key);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const closing = this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const conn of this.byId.values()) conn.close();
    await Promise.all(closing);
  }

  /** Prefers a connection on the requested local socket, then any other. */
  private pick(key: string, socketId: string | undefined): TcpConnection | undefined {
    const list = this.byRemote.get(key);
    if (list === undefined) return undefined;
    if (socketId !== undefined) {
      for (const c of list) if (c.spec.id === socketId && !c.closed) return c;
    }
    for (const c of list) if (!c.closed) return c;
    return undefined;
  }

  private accept(spec: SocketSpec, socket: net.Socket): void {
    if (this.stopping || socket.remoteAddress === undefined || socket.remotePort === undefined) {
      socket.destroy(); // already gone (reset before we saw it) or shutting down
      return;
    }
    const address = normalizeAddress(socket.remoteAddress);
    if (!this.ctx.limits.admit(address)) {
      // Over a cap: closed before any byte is read; existing connections are never dropped for it.
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.ctx.stats.connectionsAccepted++;
    const key = endpointKey(address, socket.remotePort);
    this.register(new TcpConnection(socket, spec, { address, port: socket.remotePort }, key, false, this.ctx, this));
  }

  private connect(spec: SocketSpec, address: string, port: number, key: string): TcpConnection {
    const socket = net.connect({
      host: address,
      port,
      // Leave from the configured IP (anycast or unicast) so the peer answers the right node;
      // a wildcard socket lets the kernel choose.
      localAddress: isWildcard(spec.address) ? undefined : spec.address,
    });
    const conn = new TcpConnection(socket, spec, { address, port }, key, true, this.ctx, this);
    this.register(conn);
    return conn;
  }

  private register(conn: TcpConnection): void {
    this.byId.set(conn.id, conn);
    const list = this.byRemote.get(conn.key);
    if (list === undefined) this.byRemote.set(conn.key, [conn]);
    else list.push(conn);
  }
}
