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

function ownSource(s: BindingSource): BindingSource {
  const out: BindingSource = { transport: s.transport, address: ownString(s.address), port: s.port, node: s.node };
  if (s.socketId !== undefined) out.socketId = sharedString(s.socketId);
  if (s.connectionId !== undefined) out.connectionId = s.connectionId;
  if (s.connectionOnly !== undefined) out.connectionOnly = s.connectionOnly;
  return out;
}

/** The binding as the table stores it: the same content, in compact form. */
export function storedBinding(b: Binding): Binding {
  const out: Binding = {
    aor: ownString(b.aor),
    contact: ownString(b.contact),
    q: b.q,
    qText: b.qText === '' ? '' : sharedString(b.qText),
    expiresAt: b.expiresAt,
    callId: ownString(b.callId),
    cseq: b.cseq,
    path: ownPath(b.path),
    source: ownSource(b.source),
  };
  if (b.userAgent !== undefined) out.userAgent = sharedString(b.userAgent);
  if (b.instance !== undefined) out.instance = ownString(b.instance);
  if (b.regId !== undefined) out.regId = b.regId;
  return out;
}
