// Record-Route values for this proxy (RFC 3261 16.6 step 4). When a request
// changes side (other socket, transport or address family), we record-route
// twice so each side of the dialog routes back through the socket it can reach.
// A side on WebSocket gets a flow token in its entry (see flow-token.ts), and
// then we always record-route twice, so each side's entry can carry its own.

import type { SocketSpec } from '../transport/types.js';

export function recordRouteFor(socket: SocketSpec, flowToken?: string): string {
  const host = socket.advertise ?? socket.address;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const transport = socket.transport === 'udp' ? '' : `;transport=${socket.transport}`;
  const user = flowToken ? `${flowToken}@` : '';
  return `<sip:${user}${hostPart}:${socket.port}${transport};lr>`;
}

/** Record-Route values to prepend, top first: the outbound socket faces the next hop. */
export function recordRoutes(inbound: SocketSpec, outbound: SocketSpec, inFlow?: string, outFlow?: string): string[] {
  if (inbound.id === outbound.id && !inFlow && !outFlow) return [recordRouteFor(outbound)];
  return [recordRouteFor(outbound, outFlow), recordRouteFor(inbound, inFlow)];
}
