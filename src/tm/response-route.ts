// Where a response goes: RFC 3261 18.2.2 with RFC 3581 (rport).
// Used by server transactions and by the proxy for stateless response forwarding.

import type { Via } from '../sip/types.js';
import type { Destination, Envelope, TransportName } from '../transport/types.js';

/** Via transport token -> our transport name. TLS rides the stream transports (tcp), WSS the ws one. */
export function viaTransport(token: string): TransportName {
  switch (token) {
    case 'UDP':
      return 'udp';
    case 'WS':
    case 'WSS':
      return 'ws';
    default:
      return 'tcp'; // TCP, TLS, SCTP: reliable, connection oriented
  }
}

function defaultPort(via: Via): number {
  return via.transport === 'TLS' || via.transport === 'WSS' ? 5061 : 5060;
}

/** Strip IPv6 brackets: Destination addresses are bare. */
export function bareHost(host: string): string {
  return host.length > 1 && host.charCodeAt(0) === 91 /* [ */ && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Destination of a response whose top Via is `via` (the Via of the request as it arrived here).
 * `env`, when known, is the envelope of the request: its transport, source and connection win over the Via.
 */
export function responseDestination(via: Via, env?: Envelope): Destination {
  const transport = env?.transport ?? viaTransport(via.transport);
  const received = via.received;
  let dest: Destination;
  if (transport !== 'udp') {
    // Reliable: back on the connection the request came on; else a new connection to received / sent-by port.
    if (env !== undefined && env.connectionId !== undefined) {
      dest = { transport, address: env.remote.address, port: env.remote.port, connectionId: env.connectionId };
    } else {
      dest = {
        transport,
        address: bareHost(received ?? env?.remote.address ?? via.host),
        port: via.port ?? defaultPort(via),
      };
    }
  } else {
    const maddr = via.params.get('maddr');
    if (maddr) {
      dest = { transport, address: bareHost(maddr), port: via.port ?? 5060 };
    } else {
      const address = bareHost(received ?? env?.remote.address ?? via.host);
      let port: number;
      if (typeof via.rport === 'number') port = via.rport;
      else if (via.rport === null && env !== undefined) port = env.remote.port; // rport asked, not filled in yet
      else port = via.port ?? 5060;
      dest = { transport, address, port };
    }
  }
  // Answer from the socket the request arrived on (anycast side stays anycast side).
  if (env !== undefined) dest.socketId = env.socketId;
  return dest;
}
