// Record-Route values for this proxy (RFC 3261 16.6 step 4). When a request
// changes side (other socket, transport or address family), we record-route
// twice so each side of the dialog routes back through the socket it can reach.

import type { SocketSpec } from '../transport/types.js';

export function recordRouteFor(socket: SocketSpec): string {
  const host = socket.advertise ?? socket.address;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const transport = socket.transport === 'udp' ? '' : `;transport=${socket.transport}`;
  return `<sip:${hostPart}:${socket.port}${transport};lr>`;
}

/** Record-Route values to prepend, top first: the outbound socket faces the next hop. */
export function recordRoutes(inbound: SocketSpec, outbound: SocketSpec): string[] {
  if (inbound.id === outbound.id) return [recordRouteFor(outbound)];
  return [recordRouteFor(outbound), recordRouteFor(inbound)];
}
