// The cluster-wide location table: AOR -> bindings, one replicated table
// (src/replica) with an index by AOR. Every node holds all of it and answers
// lookups from its own copy; writes replicate as deltas.

import type { Clock } from '../core/clock.js';
import { ReplicaTable } from '../replica/table.js';
import type { StoredRecord } from '../replica/types.js';
import { namesEndpoint } from '../sip/host.js';
import { parseUri, uriKey } from '../sip/uri.js';
import { type Binding, type BindingSource, locationKind } from './binding.js';
import { storedBinding } from './stored.js';
import { localFlows, type Destination, type Envelope, type FlowMap } from '../transport/types.js';

export interface LocationSettings {
  /** registrar.max_expires, seconds: with the skew, how long a removal must be remembered. */
  max_expires: number;
  /** Clock skew allowed between nodes, ms. */
  max_clock_skew: number;
}

/** Record key of a binding: its AOR and its contact URI's key (RFC 3261 URI equality). */
export function bindingKey(aor: string, contact: string): string {
  // join, not +: it makes one flat string, where + would keep a chain of cons pieces per key.
  return [aor, uriKey(parseUri(contact))].join('\n');
}

export class LocationService {
  readonly table: ReplicaTable<Binding>;
  /** AOR -> its live records. An array, not a Map: an AOR has a few bindings, and a Map per AOR costs ~200 bytes more. */
  private readonly byAor = new Map<string, StoredRecord<Binding>[]>();
  /** Single node: every connection is here. A cluster node gets the anycast layer's map. */
  flows: FlowMap;

  constructor(
    settings: LocationSettings,
    readonly selfId: number,
    private readonly clock: Clock,
  ) {
    this.flows = localFlows(selfId);
    this.table = new ReplicaTable(locationKind(settings.max_expires * 1000, settings.max_clock_skew), selfId, clock);
    this.table.onChange((key, before, after) => this.index(key, before, after));
  }

  /** Live bindings of an AOR, highest q first; equal q in contact order (the same on every node). */
  lookup(aor: string, now = this.clock.now()): Binding[] {
    const records = this.byAor.get(aor);
    if (!records) return [];
    const out: Binding[] = [];
    for (const r of records) if (r.expiresAt > now) out.push(r.value);
    return out.sort((a, b) => b.q - a.q || (a.contact < b.contact ? -1 : a.contact > b.contact ? 1 : 0));
  }

  /** Add or refresh a binding here (and, through the replicator, everywhere). */
  put(b: Binding): void {
    this.table.put(bindingKey(b.aor, b.contact), storedBinding(b), b.expiresAt);
  }

  remove(b: Binding): void {
    this.table.remove(bindingKey(b.aor, b.contact), storedBinding(b));
  }

  /** Where a REGISTER that arrived with `env` came from, in the form every node understands. */
  sourceOf(env: Envelope): BindingSource {
    const source: BindingSource = { transport: env.transport, address: env.remote.address, port: env.remote.port, socketId: env.socketId, node: 0 };
    if (env.connectionId !== undefined) {
      const h = this.flows.holder(env.connectionId);
      source.node = h.node;
      source.connectionId = h.connectionId;
    }
    return source;
  }

  /** The binding's connection as this node sends to it (a stand-in id when another node holds it). */
  connectionOf(b: Binding): Destination {
    const { node, nat: _nat, ...dest } = b.source;
    dest.connectionOnly = true;
    if (dest.connectionId !== undefined && node) dest.connectionId = this.flows.reach(node, dest.connectionId);
    return dest;
  }

  /**
   * Where a request to this binding must go, when not to its Contact as dialled:
   * - WebSocket: the connection it registered on (its Contact host is usually *.invalid);
   * - TCP: that connection, when the Contact is the address it connected from;
   * - RFC 5626 outbound bindings (+sip.instance with reg-id), and phones that registered their own
   *   address from behind a NAT (nat.ts): their flow, the address the REGISTER came from, from the
   *   socket it came in on (the anycast address: a NAT pinhole opens toward it).
   * undefined: dial the Contact.
   */
  destinationOf(b: Binding): Destination | undefined {
    const src = b.source;
    if (src.transport === 'ws') return this.connectionOf(b);
    const flow = (b.instance !== undefined && b.regId !== undefined) || src.nat === true;
    if (src.transport === 'tcp') {
      const uri = parseUri(b.contact);
      return flow || namesEndpoint(uri.host, uri.port, src.address, src.port) ? this.connectionOf(b) : undefined;
    }
    if (!flow) return undefined;
    return { transport: 'udp', address: src.address, port: src.port, ...(src.socketId ? { socketId: src.socketId } : {}) };
  }

  /** Expired bindings become tombstones; old tombstones go. Returns how many bindings expired. */
  sweep(now = this.clock.now()): number {
    return this.table.sweep(now);
  }

  /** Every AOR with its live bindings (`anysip location dump`). */
  *dump(now = this.clock.now()): IterableIterator<{ aor: string; bindings: Binding[] }> {
    for (const aor of this.byAor.keys()) {
      const bindings = this.lookup(aor, now);
      if (bindings.length) yield { aor, bindings };
    }
  }

  get size(): number {
    return this.table.size;
  }

  get aors(): number {
    return this.byAor.size;
  }

  private index(key: string, before: StoredRecord<Binding> | undefined, after: StoredRecord<Binding> | undefined): void {
    const aor = (after ?? before)!.value.aor;
    const records = this.byAor.get(aor);
    const at = records ? records.findIndex((r) => r.key === key) : -1;
    if (after) {
      after.value.expiresAt = after.expiresAt;
      if (!records) this.byAor.set(aor, [after]);
      else if (at >= 0) records[at] = after;
      else records.push(after);
    } else if (records && at >= 0) {
      records.splice(at, 1);
      if (records.length === 0) this.byAor.delete(aor);
    }
  }
}
