// Small pure helpers of forwarding: what a route target means, where a
// registered contact is reached, and the header edits of 16.6.

import { parseMaxForwards } from '../sip/headers.js';
import type { SipMessage } from '../sip/message.js';
import type { SipUri } from '../sip/types.js';
import { aorOf } from '../location/aor.js';
import { isOutboundFlow, type Binding } from '../location/binding.js';
import type { Registrar } from '../registrar/registrar.js';
import { parseUriShared } from '../sip/uri.js';
import type { Envelope } from '../transport/types.js';
import type { Target } from './context.js';
import { uriTransport } from './resolve.js';

/** The socket the request came in on, when the next hop uses that same transport. */
export function sameSide(next: SipUri, env: Envelope): string | undefined {
  return uriTransport(next) === env.transport ? env.socketId : undefined;
}

/**
 * A route target without a user part is a next hop: the Request-URI is kept, as a gateway
 * needs the dialled number. With a user part it is a new request target and replaces it.
 */
export function routeTarget(uri: string, socketId: string | undefined): Target {
  const parsed = parseUriShared(uri);
  return parsed.user === undefined ? { nextHop: parsed, socketId } : { uri, socketId };
}

export function decrementMaxForwards(req: SipMessage, initial: number): void {
  const mf = req.get('max-forwards');
  req.set('Max-Forwards', String(mf === undefined ? initial : parseMaxForwards(mf) - 1));
}

/** Requests that create a dialog or may: Record-Route them (REGISTER never). */
export function isDialogInitiating(req: SipMessage): boolean {
  if (req.toTag !== undefined) return false;
  const m = req.method;
  return m !== 'REGISTER' && m !== 'CANCEL' && m !== 'ACK';
}

/** A reason phrase must be one line of text. */
export function safeReason(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 120);
}

/**
 * Registered contacts, highest q first; equal q forks in parallel, lower q only after (RFC 3261 16.6).
 * RFC 5626 5.3: one flow of an instance at a time, the most recently refreshed first, the instance's
 * other flows behind it as alternates (tried when it fails with 430).
 */
export function contactGroups(registrar: Registrar, ruri: SipUri, now: number): Target[][] {
  const bindings = registrar.lookup(aorOf(ruri), now);
  const target = (b: Binding): Target => ({
    uri: b.contact,
    routes: b.path.length ? b.path : undefined,
    destination: b.path.length ? undefined : registrar.location.destinationOf(b),
    ...(isOutboundFlow(b) ? { flow: true } : {}),
  });
  const flowsOf = new Map<string, Binding[]>();
  for (const b of bindings) {
    if (!isOutboundFlow(b)) continue;
    const list = flowsOf.get(b.instance!);
    if (list) list.push(b);
    else flowsOf.set(b.instance!, [b]);
  }
  for (const list of flowsOf.values()) list.sort((x, y) => y.expiresAt - x.expiresAt);
  const groups: Target[][] = [];
  let lastQ = Number.NaN;
  for (const b of bindings) {
    let t: Target;
    if (isOutboundFlow(b)) {
      const [first, ...others] = flowsOf.get(b.instance!)!;
      if (first !== b) continue;
      t = { ...target(b), alternates: others.map(target) };
    } else t = target(b);
    if (b.q !== lastQ) groups.push([]);
    groups[groups.length - 1]!.push(t);
    lastQ = b.q;
  }
  return groups;
}
