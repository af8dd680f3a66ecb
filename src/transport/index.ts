// Public API of the transport layer. Listener classes stay internal: upper
// layers talk to TransportLayer through the Sender / MessageHandler contract.

export type {
  Destination,
  Endpoint,
  Envelope,
  MessageHandler,
  Sender,
  SocketRole,
  SocketSpec,
  TransportName,
} from './types.js';
export { TransportLayer, DEFAULT_TCP_IDLE_TIMEOUT_MS, type TransportLayerOptions } from './layer.js';
export type { TransportStats } from './context.js';
export { TRANSPORT_GAUGES } from './context.js';
export { StreamFramer, DEFAULT_MAX_MESSAGE_SIZE, type StreamFramerOptions } from './stream-framer.js';
