// Bindings as the table keeps them, compact for a million (issue 12):
// strings are flat copies that own their bytes (a parsed header is a slice
// that would keep the whole REGISTER alive, a built string a chain of cons
// pieces), values most bindings share (User-Agent, socket, transport) are
// one string each, and an empty Path is one shared array.

import type { Binding, BindingSource } from './binding.js';

export const EMPTY_PATH: readonly string[] = Object.freeze([]);

/** A flat copy of `s`. The round trip is exact for every well-formed string; if not (a lone surrogate), `s` is kept. */
export function ownString(s: string): string {
  const copy = Buffer.from(s, 'utf8').toString('utf8');
  return copy === s ? copy : s;
}

/** Distinct shared values kept at most; past it, values are copied, not shared (a flood of unique User-Agents stays bounded). */
const SHARED_MAX = 4096;
const shared = new Map<string, string>();

/** The one copy of a value many bindings repeat. */
export function sharedString(s: string): string {
  const known = shared.get(s);
  if (known !== undefined) return known;
  const own = ownString(s);
  if (shared.size < SHARED_MAX) shared.set(own, own);
  return own;
}

function ownPath(path: readonly string[]): readonly string[] {
  return path.length === 0 ? EMPTY_PATH : path.map(ownString);
}

// Optional fields are spread inside the literal: added after it, they would cost an extra property array (~40 B).
function ownSource(s: BindingSource): BindingSource {
  return {
    transport: s.transport,
    address: ownString(s.address),
    port: s.port,
    node: s.node,
    ...(s.socketId !== undefined ? { socketId: sharedString(s.socketId) } : {}),
    ...(s.connectionId !== undefined ? { connectionId: s.connectionId } : {}),
    ...(s.connectionOnly !== undefined ? { connectionOnly: s.connectionOnly } : {}),
    ...(s.nat ? { nat: true as const } : {}),
  };
}

/** The binding as the table stores it: the same content, in compact form. */
export function storedBinding(b: Binding): Binding {
  return {
    aor: ownString(b.aor),
    contact: ownString(b.contact),
    q: b.q,
    qText: b.qText === '' ? '' : sharedString(b.qText),
    expiresAt: b.expiresAt,
    callId: ownString(b.callId),
    cseq: b.cseq,
    path: ownPath(b.path),
    source: ownSource(b.source),
    ...(b.userAgent !== undefined ? { userAgent: sharedString(b.userAgent) } : {}),
    ...(b.instance !== undefined ? { instance: ownString(b.instance) } : {}),
    ...(b.regId !== undefined ? { regId: b.regId } : {}),
  };
}
