// Public surface of the transaction layer.

export * from './types.js';
export { TimerWheel, type TimerHandle, type TimerTarget, type TimerWheelOptions } from './timer-wheel.js';
export {
  BranchCodec,
  MAGIC_COOKIE,
  decodeBranch,
  encodeBranch,
  encodeStatelessBranch,
  hasMagicCookie,
  type DecodedBranch,
  type EncodeOptions,
} from './branch.js';
export { computeLoopHash } from './loop.js';
export { responseDestination, viaTransport, bareHost } from './response-route.js';
export { clientKey, serverKey, sentBy } from './matching.js';
export { TM_DROP_REASONS, type TmCounters, type TmDropReason, type TmEvents } from './context.js';
export { TransactionLayer, type RequestOptions, type TmStats, type TransactionLayerOptions } from './layer.js';
