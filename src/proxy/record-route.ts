// Record-Route values for this proxy (RFC 3261 16.6 step 4). When a request
// changes side (other socket, transport or address family), we record-route
// twice so each side of the dialog routes back through the socket it can reach.
// A side on WebSocket gets a flow token in its entry (see flow-token.ts), and
// then we always record-route twice, so each side's entry can carry its own.

import type { SocketSpec } from '../transport/types.js';

/**
 * The Record-Route URI for a socket. With `via` (proxy.record_route_address: anycast), the entry
 * for a unicast socket names the cluster's anycast address instead, and `;s=<socket id>` says
 * which socket of whichever node removes it the request then leaves from: the dialog is no longer
 * tied to the node that set it up.
 */
export function recordRouteFor(socket: SocketSpec, flowToken?: string, via?: SocketSpec): string {
  const named = via ?? socket;
  const host = named.advertise ?? named.address;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const transport = socket.transport === 'udp' ? '' : `;transport=${socket.transport}`;
  const user = flowToken ? `${flowToken}@` : '';
  const side = via ? `;s=${socket.id}` : '';
  return `<sip:${user}${hostPart}:${named.port}${transport};lr${side}>`;
}

/**
 * Record-Route values to prepend, top first: the outbound socket faces the next hop.
 * `anycastFor` maps a unicast socket to the anycast socket that stands for it, when entries
 * should name the anycast address.
 */
export function recordRoutes(
  inbound: SocketSpec,
  outbound: SocketSpec,
  inFlow?: string,
  outFlow?: string,
  anycastFor?: (s: SocketSpec) => SocketSpec | undefined,
): string[] {
  if (inbound.id === outbound.id && !inFlow && !outFlow) return [recordRouteFor(outbound, undefined, anycastFor?.(outbound))];
  return [recordRouteFor(outbound, outFlow, anycastFor?.(outbound)), recordRouteFor(inbound, inFlow, anycastFor?.(inbound))];
}
