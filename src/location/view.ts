// Bindings as operators see them: `anysip location show|dump`, GET /location.

import { parseUri } from '../sip/uri.js';
import { aorOf } from './aor.js';
import type { Binding } from './binding.js';
import type { LocationService } from './location.js';

export interface BindingView {
  contact: string;
  q: string;
  /** Seconds left. */
  expires: number;
  expires_at: string;
  call_id: string;
  cseq: number;
  path?: readonly string[];
  /** transport:address:port the REGISTER came from, and the socket it came in on. */
  received: string;
  socket?: string;
  /** The phone registered its own address from behind a NAT: reached at `received` (nat.ts). */
  nat?: true;
  /** Stream transports: the node holding the connection and its id there. */
  flow?: { node: number; connection: number };
  user_agent?: string;
  instance?: string;
  reg_id?: number;
}

export function bindingView(b: Binding, now: number): BindingView {
  const s = b.source;
  return {
    contact: b.contact,
    q: b.qText || '1.0',
    expires: Math.max(0, Math.round((b.expiresAt - now) / 1000)),
    expires_at: new Date(b.expiresAt).toISOString(),
    call_id: b.callId,
    cseq: b.cseq,
    ...(b.path.length ? { path: b.path } : {}),
    received: `${s.transport}:${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port}`,
    ...(s.socketId ? { socket: s.socketId } : {}),
    ...(s.nat ? { nat: true as const } : {}),
    ...(s.connectionId !== undefined ? { flow: { node: s.node, connection: s.connectionId } } : {}),
    ...(b.userAgent ? { user_agent: b.userAgent } : {}),
    ...(b.instance ? { instance: b.instance } : {}),
    ...(b.regId ? { reg_id: b.regId } : {}),
  };
}

/**
 * GET /location?aor=AOR: that AOR's bindings (404 when it has none);
 * GET /location: every AOR, one JSON line each.
 */
export function locationView(location: LocationService, now: () => number) {
  return (query: URLSearchParams) => {
    const aor = query.get('aor');
    const t = now();
    if (aor === null) {
      return { lines: mapIter(location.dump(t), (e) => ({ aor: e.aor, bindings: e.bindings.map((b) => bindingView(b, t)) })) };
    }
    let key: string;
    try {
      key = aorOf(parseUri(aor));
    } catch (err) {
      return { status: 400, body: { error: `not a SIP URI: ${(err as Error).message}`, aor } };
    }
    const bindings = location.lookup(key, t).map((b) => bindingView(b, t));
    return { status: bindings.length ? 200 : 404, body: { aor: key, bindings } };
  };
}

function* mapIter<T, U>(it: Iterable<T>, f: (x: T) => U): IterableIterator<U> {
  for (const x of it) yield f(x);
}
