// Contracts between the transport layer and everything above it.

export type TransportName = 'udp' | 'tcp' | 'ws';

/** Which side of the cluster a socket faces (DESIGN.md, "Sockets"). */
export type SocketRole = 'anycast' | 'unicast';

export interface Endpoint {
  /** IP address without brackets ('::1', not '[::1]'). */
  address: string;
  port: number;
}

/** One configured listening socket. */
export interface SocketSpec {
  /** Stable name used in config and routes, e.g. 'anycast-udp' or 'core'. */
  id: string;
  transport: TransportName;
  address: string;
  port: number;
  role: SocketRole;
  /** Host to write in Via / Record-Route when it differs from the bound address (e.g. 0.0.0.0 binds). */
  advertise?: string;
}

/** Everything known about where a message came from. Travels with it, even over the bus. */
export interface Envelope {
  transport: TransportName;
  remote: Endpoint;
  local: Endpoint;
  /** SocketSpec.id of the socket the message arrived on. */
  socketId: string;
  /** Stream transports only: the connection the message arrived on, for replies. */
  connectionId?: number;
  /** Clock time (ms) at reception. */
  receivedAt: number;
  /** 0 when read from the network here; +1 for each bus hop (never more than 1). */
  hops: number;
  /**
   * Set when the message is over `maxMessageSize`: its size in bytes (on TCP, as declared by
   * Content-Length). The data is then the whole datagram (UDP) or the header section only (TCP,
   * the body is never read), for the layer above to answer 513; the TCP connection is half-closed
   * right after the handler returns.
   */
  oversize?: number;
}

export interface Destination {
  transport: TransportName;
  address: string;
  port: number;
  /** Send from this socket (its role picks the anycast or unicast side). Default: first socket of that transport. */
  socketId?: string;
  /** Reuse this connection (responses go back on the connection the request came on). */
  connectionId?: number;
  /**
   * Only that connection: when it is gone the send fails (reason `no_connection`) instead of
   * dialling the address, which for a phone behind NAT could never get through.
   */
  connectionOnly?: boolean;
}

/**
 * Stream connections across the cluster. A message relayed from the node that holds its TCP/WS
 * connection arrives with a local stand-in id (src/anycast/relay-sender.ts); what must outlive
 * the message (a binding, a flow token) names the real holder, so any node can reach it.
 */
export interface FlowMap {
  /** The node and connection id behind connection `connectionId` as this node knows it. */
  holder(connectionId: number): { node: number; connectionId: number };
  /** The id this node sends on to reach connection `connectionId` of node `node`. */
  reach(node: number, connectionId: number): number;
}

/** A single node: every connection is its own. */
export function localFlows(selfId: number): FlowMap {
  return { holder: (connectionId) => ({ node: selfId, connectionId }), reach: (_node, connectionId) => connectionId };
}

/** The part of the transport layer the upper layers use. */
export interface Sender {
  /** Fire and forget. onError is called (once, asynchronously) if the data could not be sent. */
  send(data: Buffer, dest: Destination, onError?: (err: Error) => void): void;
  /** The socket a message to `dest` would leave from (for Via and Record-Route). */
  socketFor(dest: Destination): SocketSpec;
}

export type MessageHandler = (data: Buffer, env: Envelope) => void;
