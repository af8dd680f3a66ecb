// Contracts between the cluster layer (bus + membership) and its users, the
// anycast layer first. The real implementation runs over TCP (src/bin-proto,
// src/cluster); the deterministic simulator (test/sim) provides in-memory ones.

export type NodeState = 'joining' | 'up' | 'draining' | 'drained' | 'down';

export interface MemberInfo {
  id: number;
  name: string;
  state: NodeState;
  /** Milliseconds of the last round trip measured on the link, if any. */
  rttMs?: number;
}

export interface MembershipChange {
  /** View number after the change: bumps by one on every change this node sees. */
  view: number;
  node: number;
  from: NodeState;
  to: NodeState;
}

export interface Membership {
  readonly selfId: number;
  /** Current view number (starts at 1). */
  readonly view: number;
  /** Ids of nodes in state `up`, self included when up, ascending. */
  upNodes(): number[];
  state(id: number): NodeState | undefined;
  members(): MemberInfo[];
  onChange(listener: (change: MembershipChange) => void): () => void;
}

/** Capabilities multiplex the bus; each owns its message types. */
export type Capability = 'membership' | 'anycast' | 'dialog' | 'registrar';

export interface BusMessage {
  src: number;
  capability: Capability;
  type: number;
  payload: Uint8Array;
}

export interface Bus {
  readonly selfId: number;
  /**
   * Queue a message to one node (or 0 for every peer). Returns false when it could not be queued
   * (peer unknown or down, queue full): the caller counts that as a drop. Never throws for a peer's state.
   */
  send(dst: number, capability: Capability, type: number, payload: Uint8Array): boolean;
  /** One handler per capability. Authentication, replay and framing checks already passed. */
  handle(capability: Capability, handler: (msg: BusMessage) => void): void;
}
