// Contracts between the cluster layer (bus + membership) and its users, the
// anycast layer first. The real implementation runs over TCP (src/bin-proto,
// src/cluster); the deterministic simulator (test/sim) provides in-memory ones.
// The bus contract belongs to the lower layer (src/bin-proto/types.ts) and is
// re-exported here, so users of the cluster find the whole contract in one place.

export type { Bus, BusMessage, Capability } from '../bin-proto/types.js';

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
  upNodes(): readonly number[];
  state(id: number): NodeState | undefined;
  members(): MemberInfo[];
  onChange(listener: (change: MembershipChange) => void): () => void;
}

/**
 * What keeps a starting node out of `up` until its replicated state is whole (src/replica):
 * ClusterMembership implements it. Without any hold, a node is `up` as soon as it knows its peers.
 */
export interface JoinGate {
  /** Keep this node `joining` until the returned function is called (once is enough). */
  hold(reason: string): () => void;
  /** Called once, when this node knows its peers' states (or stopped waiting for them): the moment to pick a sync donor. */
  onSettled(listener: () => void): void;
}
