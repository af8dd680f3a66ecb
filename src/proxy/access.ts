// What the access policy (src/auth/policy.ts) needs to know about a request,
// as only the proxy can tell it: which domains are ours, which Route entries
// are ours and genuine (a dialog tag or a flow token of ours), and whether
// the request would leave for another host.

import type { SipMessage } from '../sip/message.js';
import type { SipUri } from '../sip/types.js';
import type { RequestFacts } from '../auth/policy.js';
import type { FlowRef, FlowTokens } from './flow-token.js';
import type { LocalAddresses } from './local-address.js';
import type { RouteEntry } from './route-table.js';

/** `tokens`: what FlowTokens.decodeAll made of `ours`. */
export function requestFacts(
  req: SipMessage,
  ruri: SipUri,
  ours: SipUri[],
  tokens: ReadonlyArray<FlowRef | undefined>,
  local: LocalAddresses,
  routes: readonly RouteEntry[],
  flows: FlowTokens,
): RequestFacts {
  const from = req.from.uri;
  const to = req.to.uri;
  const tag = ours.length ? flows.routeTag(req.callId) : '';
  return {
    ruriLocal: local.isLocalDomain(ruri) || routedDomain(routes, ruri.host),
    fromLocal: local.isLocalDomain(from),
    fromHost: from.host.toLowerCase(),
    toHost: to.host.toLowerCase(),
    followsOurRoute: ours.some((u, i) => u.params.get('d') === tag || tokens[i] !== undefined),
    foreignRoute: req.has('route'),
  };
}

/** A domain the route table names (not `*`): the operator routes it, so requests for it are not relayed blindly. */
function routedDomain(routes: readonly RouteEntry[], host: string): boolean {
  const h = host.toLowerCase();
  return routes.some((r) => r.match?.domain !== undefined && r.match.domain !== '*' && r.match.domain.toLowerCase() === h);
}
