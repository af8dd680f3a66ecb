// The location table: AOR -> contacts with expiry. In memory, single node for now.

import type { SipUri } from '../sip/types.js';
import type { Destination } from '../transport/types.js';

export interface Binding {
  /** Contact URI text exactly as registered. */
  contact: string;
  uri: SipUri;
  /** 0..1; contacts without q sort as 1.0 (RFC 3261 leaves it to us; Kamailio does the same). */
  q: number;
  /** q as written, to echo it back ('' when absent). */
  qText: string;
  expiresAt: number;
  callId: string;
  cseq: number;
  /** Path header values from the REGISTER (RFC 3327), top first. */
  path: string[];
  /** Where the REGISTER came from: used to reach the contact over its stream connection. */
  source: Destination;
  userAgent?: string;
}

export class LocationStore {
  private readonly table = new Map<string, Binding[]>();
  private count = 0;

  /** Live bindings, highest q first (stable for equal q: first registered first). */
  lookup(aor: string, now: number): Binding[] {
    const list = this.table.get(aor);
    if (!list) return [];
    const live = list.filter((b) => b.expiresAt > now);
    if (live.length !== list.length) this.replace(aor, live);
    return live.slice().sort((a, b) => b.q - a.q);
  }

  replace(aor: string, bindings: Binding[]): void {
    const before = this.table.get(aor)?.length ?? 0;
    if (bindings.length === 0) this.table.delete(aor);
    else this.table.set(aor, bindings);
    this.count += bindings.length - before;
  }

  /** Drop expired bindings everywhere. Returns how many went. */
  sweep(now: number): number {
    let removed = 0;
    for (const [aor, list] of this.table) {
      const live = list.filter((b) => b.expiresAt > now);
      if (live.length !== list.length) {
        removed += list.length - live.length;
        this.replace(aor, live);
      }
    }
    return removed;
  }

  get size(): number {
    return this.count;
  }

  get aors(): number {
    return this.table.size;
  }
}
