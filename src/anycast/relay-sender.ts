// Responses to requests that arrived over TCP/WS on another node. The owner
// cannot write to another node's connection, so a re-injected stream request
// gets a synthetic connection id here, and whatever the owner then sends to
// that id (responses, and requests to a contact registered over it) goes back
// over the bus to the node holding the connection, which writes it (RELAY).
// UDP needs none of this: every node sends from the same anycast address.

import { TransportError } from '../core/errors.js';
import type { Destination, Sender, SocketSpec } from '../transport/types.js';
import type { AnycastCounters } from './metrics.js';
import { encodeRelay, MSG_RELAY } from './wire.js';
import type { Bus } from '../cluster/types.js';

/** Above any id a TransportLayer hands out (a counter from 1). */
const SYNTHETIC_BASE = 2 ** 40;
/** Remote connections remembered; the oldest is forgotten first (its later sends fail like a closed connection). */
const MAX_REMOTE = 65536;

interface Remote {
  node: number;
  connectionId: number;
  /** onError of the latest sends to it, until the holder reports a failure or they age out. */
  waiting?: Array<{ at: number; onError: (err: Error) => void }>;
}

/** Sends whose failure report is still awaited, per remote connection. */
const MAX_WAITING = 8;
/** A holder reports a failed write within a bus round trip; older sends went through. */
const WAIT_MS = 5000;

export class RelaySender implements Sender {
  private readonly byId = new Map<number, Remote>();
  private readonly byRemote = new Map<string, number>();
  private next = SYNTHETIC_BASE;

  constructor(
    private readonly local: Sender,
    private readonly bus: Bus,
    private readonly counters: AnycastCounters,
  ) {}

  /** The local stand-in for connection `connectionId` of node `node`. */
  localId(node: number, connectionId: number): number {
    const key = node + ':' + connectionId;
    const known = this.byRemote.get(key);
    if (known !== undefined) {
      // Refresh its age: Maps iterate in insertion order, the oldest first.
      this.byRemote.delete(key);
      this.byRemote.set(key, known);
      return known;
    }
    const id = this.next++;
    this.byId.set(id, { node, connectionId });
    this.byRemote.set(key, id);
    if (this.byRemote.size > MAX_REMOTE) {
      const [oldKey, oldId] = this.byRemote.entries().next().value as [string, number];
      this.byRemote.delete(oldKey);
      this.byId.delete(oldId);
    }
    return id;
  }

  /** The node and connection behind a local connection id: another node's for a stand-in id, else this node's own. */
  holder(connectionId: number): Remote {
    return this.byId.get(connectionId) ?? { node: this.bus.selfId, connectionId };
  }

  /** The id to send on here to reach connection `connectionId` of `node` (its own id when it is this node's). */
  reach(node: number, connectionId: number): number {
    return node === this.bus.selfId ? connectionId : this.localId(node, connectionId);
  }

  send(data: Buffer, dest: Destination, onError?: (err: Error) => void): void {
    const cid = dest.connectionId;
    if (cid === undefined || cid < SYNTHETIC_BASE) {
      this.local.send(data, dest, onError);
      return;
    }
    const remote = this.byId.get(cid);
    const ok =
      remote !== undefined &&
      this.bus.send(remote.node, 'anycast', MSG_RELAY, encodeRelay({ ...dest, connectionId: remote.connectionId }, data));
    if (ok) {
      this.counters.sent('relay');
      if (onError) {
        const now = performance.now();
        const waiting = (remote.waiting ??= []).filter((w) => now - w.at < WAIT_MS);
        waiting.push({ at: now, onError });
        if (waiting.length > MAX_WAITING) waiting.shift();
        remote.waiting = waiting;
      }
      return;
    }
    this.counters.drop('relay_unreachable');
    if (onError) queueMicrotask(() => onError(new TransportError('connection is on another node that cannot be reached')));
  }

  /** The holder could not write on its connection: the sends to it that are still waiting fail now. */
  failed(node: number, connectionId: number): void {
    const id = this.byRemote.get(node + ':' + connectionId);
    const remote = id === undefined ? undefined : this.byId.get(id);
    const waiting = remote?.waiting;
    if (!remote || !waiting) return;
    remote.waiting = undefined;
    const err = new TransportError('the connection is gone on the node that held it');
    const now = performance.now();
    for (const w of waiting) if (now - w.at < WAIT_MS) w.onError(err);
  }

  socketFor(dest: Destination): SocketSpec {
    return this.local.socketFor(dest);
  }
}
