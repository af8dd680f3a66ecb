// Route pre-processing of RFC 3261 16.4, including the strict-router repair
// and the removal of both entries of a double Record-Route.

import { parseNameAddr } from '../sip/headers.js';
import { parseUriShared } from '../sip/uri.js';
import type { SipMessage } from '../sip/message.js';
import type { SipUri } from '../sip/types.js';
import type { LocalAddresses } from './local-address.js';

export interface RouteResult {
  /**
   * The Route URIs of ours that were removed, in order. Their user parts are flow tokens when a
   * side is on WebSocket; after a double Record-Route, the one that is not the inbound socket
   * names the socket that faces the next hop.
   */
  ours: SipUri[];
}

export function preprocessRoute(req: SipMessage, me: LocalAddresses): RouteResult {
  const ours: SipUri[] = [];
  // Strict router upstream: it put our Record-Route URI in the Request-URI and
  // the real target in the last Route. Restore it (16.4).
  const ruri = parseUriShared(req.uri);
  if (me.isMe(ruri) && !ruri.user) {
    const routes = req.getAll('route');
    const last = routes[routes.length - 1];
    if (last !== undefined && isRecordRouteUri(ruri)) {
      req.uri = parseNameAddr(last).uriText;
      dropLastRoute(req);
    }
  }
  // Loose routing: pop every leading Route that is us (two of them after a double Record-Route).
  for (;;) {
    const top = req.getAll('route')[0];
    if (top === undefined) break;
    const uri = parseNameAddr(top).uri;
    if (!me.isMe(uri)) break;
    req.shift('route');
    ours.push(uri);
  }
  return { ours };
}

/** Our Record-Route URIs always carry `lr`; a Request-URI without a user that is us and has `lr` came from a strict router. */
function isRecordRouteUri(uri: { params: Map<string, string | null> }): boolean {
  return uri.params.has('lr');
}

function dropLastRoute(req: SipMessage): void {
  const routes = req.getAll('route');
  routes.pop();
  req.remove('route');
  for (const r of routes) req.append('Route', r);
}
