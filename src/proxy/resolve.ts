// Next-hop resolution for a SIP URI: transport, address, port.
// RFC 3263 NAPTR/SRV is not done yet: names resolve with the system resolver (A/AAAA).

import { lookup } from 'node:dns/promises';
import { TransportError } from '../core/errors.js';
import type { SipUri } from '../sip/types.js';
import type { Destination, TransportName } from '../transport/types.js';
import type { SizedDestination } from './mtu.js';
import { isIpLiteral, normalizeHost } from './local-address.js';

const TRANSPORTS: Record<string, TransportName> = { udp: 'udp', tcp: 'tcp', ws: 'ws', wss: 'ws' };

export function uriTransport(uri: SipUri): TransportName {
  const t = uri.params.get('transport');
  if (t === undefined || t === null) {
    if (uri.scheme === 'sips') throw new TransportError('sips: (TLS) is not supported yet');
    return 'udp';
  }
  const name = TRANSPORTS[t.toLowerCase()];
  if (!name) throw new TransportError(`unsupported transport=${t}`);
  return name;
}

/** A URI with a `transport` parameter: the size rule of mtu.ts never moves it to another transport. */
function explicitTransport(uri: SipUri): boolean {
  const t = uri.params.get('transport');
  return t !== undefined && t !== null;
}

/** Resolve without I/O when the host is an IP literal; null when a DNS lookup is needed. */
export function resolveLiteral(uri: SipUri, socketId?: string): SizedDestination | null {
  const maddr = uri.params.get('maddr');
  const host = maddr ?? uri.host;
  if (!isIpLiteral(host)) return null;
  return { transport: uriTransport(uri), address: normalizeHost(host), port: uri.port ?? 5060, socketId, explicitTransport: explicitTransport(uri) };
}

/**
 * Where a URI points. An IP literal (the usual case in a proxy's hot path) is answered at once,
 * without a promise; a name needs a DNS lookup and gets one. May throw (unsupported transport).
 */
export function resolveUri(uri: SipUri, socketId?: string): SizedDestination | Promise<SizedDestination> {
  return resolveLiteral(uri, socketId) ?? lookupUri(uri, socketId);
}

async function lookupUri(uri: SipUri, socketId?: string): Promise<SizedDestination> {
  const host = uri.params.get('maddr') ?? uri.host;
  try {
    const { address } = await lookup(host);
    return { transport: uriTransport(uri), address, port: uri.port ?? 5060, socketId, explicitTransport: explicitTransport(uri) };
  } catch (err) {
    throw new TransportError(`cannot resolve ${host}: ${(err as Error).message}`);
  }
}
