// The bus contract: what the cluster layer and its users (anycast, and the
// simulator's in-memory bus) need of a bus. ClusterBus (bus.ts) implements it
// over TCP. Re-exported by src/cluster/types.ts.

/** Capabilities multiplex the bus; each owns its message types. */
export type Capability = 'membership' | 'anycast' | 'dialog' | 'location' | 'abuse';

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
