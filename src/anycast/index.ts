// Public surface of the anycast layer.

export { createAnycast, type Anycast, type AnycastOptions } from './anycast.js';
export { AnycastGate, type GateDeps } from './gate.js';
export { AnycastMetrics, FORWARD_KINDS, type AnycastCounters, type AnycastSnapshot, type ForwardKind } from './metrics.js';
export { RelaySender } from './relay-sender.js';
export { keyHash, ownerOf, ownerOfHash, weight } from './rendezvous.js';
export { DEFAULT_ANYCAST, type AnycastMode, type AnycastSettings, type GateEvents, type GateTm } from './types.js';
export * as wire from './wire.js';
