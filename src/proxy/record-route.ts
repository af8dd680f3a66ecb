// Record-Route values for this proxy (RFC 3261 16.6 step 4). When a request
// changes side (other socket, transport or address family), we record-route
// twice so each side of the dialog routes back through the socket it can reach.
// A side on a flow (a TCP/WS connection, a UDP peer behind NAT) gets a flow
// token in its entry (see flow-token.ts), and then we always record-route
// twice, so each side's entry can carry its own. A REGISTER we relay to
// another registrar gets a Path entry (RFC 3327) with the token of its flow.

import { supportsOutbound } from '../location/binding.js';
import type { SipMessage } from '../sip/message.js';
import type { Destination, Envelope, SocketSpec } from '../transport/types.js';
import type { FlowTokens } from './flow-token.js';
import { isDialogInitiating } from './targets.js';

export interface RouteStampDeps {
  flows: FlowTokens;
  settings: { record_route: boolean; add_path: 'outbound' | 'always' | 'never' };
  /** The socket a request that came in on `env` arrived at. */
  socketById(id: string): SocketSpec | undefined;
  /** The socket a request to `dest` leaves from. */
  socketFor(dest: Destination): SocketSpec;
  /** With proxy.record_route_address: anycast, the anycast socket that stands for a unicast one. */
  anycastFor?: (s: SocketSpec) => SocketSpec | undefined;
}

/**
 * Our entries on a request about to be forwarded (`req`, a copy of `inbound` as received):
 * Record-Route on a dialog-initiating request, Path on a REGISTER relayed elsewhere.
 */
export function stampRoutes(req: SipMessage, inbound: SipMessage, env: Envelope, dest: Destination, d: RouteStampDeps): void {
  if (d.settings.record_route && isDialogInitiating(inbound)) {
    const inSock = d.socketById(env.socketId);
    const outSock = d.socketFor(dest);
    const { inbound: inFlow, outbound: outFlow } = d.flows.forRecordRoute(inbound, env, dest);
    // Tagged on every node, with or without an access policy: a dialog set up before auth is
    // turned on (a rolling restart) must still have its BYE let through afterwards.
    const tag = d.flows.routeTag(inbound.callId);
    for (const rr of recordRoutes(inSock ?? outSock, outSock, inFlow, outFlow, d.anycastFor, tag).reverse()) req.prepend('Record-Route', rr);
    return;
  }
  if (inbound.method !== 'REGISTER' || d.settings.add_path === 'never') return;
  const outbound = asksForOutbound(inbound);
  if (d.settings.add_path === 'outbound' && !outbound) return;
  const outSock = d.socketFor(dest);
  const entry = recordRouteFor(outSock, d.flows.arrival(inbound, env), d.anycastFor?.(outSock));
  // RFC 5626 5.1: `ob` tells the registrar this edge keeps the flow (else it answers 439).
  req.prepend('Path', outbound ? entry.replace(/;lr(?=[;>])/, ';lr;ob') : entry);
}

/** RFC 5626 6: Supported: outbound and a Contact with reg-id. */
function asksForOutbound(req: SipMessage): boolean {
  return supportsOutbound(req) && req.getAll('contact').some((c) => /;\s*reg-id\s*=/i.test(c));
}

/**
 * The Record-Route URI for a socket. With `via` (proxy.record_route_address: anycast), the entry
 * for a unicast socket names the cluster's anycast address instead, and `;s=<socket id>` says
 * which socket of whichever node removes it the request then leaves from: the dialog is no longer
 * tied to the node that set it up.
 */
export function recordRouteFor(socket: SocketSpec, flowToken?: string, via?: SocketSpec, dialogTag?: string): string {
  const named = via ?? socket;
  const host = named.advertise ?? named.address;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const transport = socket.transport === 'udp' ? '' : `;transport=${socket.transport}`;
  const user = flowToken ? `${flowToken}@` : '';
  const side = via ? `;s=${socket.id}` : '';
  const tag = dialogTag ? `;d=${dialogTag}` : '';
  return `<sip:${user}${hostPart}:${named.port}${transport};lr${side}${tag}>`;
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
  dialogTag?: string,
): string[] {
  if (inbound.id === outbound.id && !inFlow && !outFlow) return [recordRouteFor(outbound, undefined, anycastFor?.(outbound), dialogTag)];
  return [recordRouteFor(outbound, outFlow, anycastFor?.(outbound), dialogTag), recordRouteFor(inbound, inFlow, anycastFor?.(inbound), dialogTag)];
}
