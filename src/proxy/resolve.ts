// Next-hop resolution for a SIP URI: transport, address, port.
// RFC 3263 NAPTR/SRV is not done yet: names resolve with the system resolver (A/AAAA).

import { lookup } from 'node:dns/promises';
import { TransportError } from '../core/errors.js';
import type { SipUri } from '../sip/types.js';
import type { Destination, TransportName } from '../transport/types.js';
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

/** Resolve without I/O when the host is an IP literal; null when a DNS lookup is needed. */
export function resolveLiteral(uri: SipUri, socketId?: string): Destination | null {
  const maddr = uri.params.get('maddr');
  const host = maddr ?? uri.host;
  if (!isIpLiteral(host)) return null;
  return { transport: uriTransport(uri), address: normalizeHost(host), port: uri.port ?? 5060, socketId };
}

/**
 * Where a URI points. An IP literal (the usual case in a proxy's hot path) is answered at once,
 * without a promise; a name needs a DNS lookup and gets one. May throw (unsupported transport).
 */
export function resolveUri(uri: SipUri, socketId?: string): Destination | Promise<Destination> {
  return resolveLiteral(uri, socketId) ?? lookupUri(uri, socketId);
}

async function lookupUri(uri: SipUri, socketId?: string): Promise<Destination> {
  const host = uri.params.get('maddr') ?? uri.host;
  try {
    const { address } = await lookup(host);
    return { transport: uriTransport(uri), address, port: uri.port ?? 5060, socketId };
  } catch (err) {
    throw new TransportError(`cannot resolve ${host}: ${(err as Error).message}`);
  }
}
