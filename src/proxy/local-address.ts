// "Is this URI us?" — the question behind loose routing (RFC 3261 16.4),
// strict-router repair, and whether a Request-URI is for a domain we serve.

import { isIpLiteral, normalizeHost } from '../sip/host.js';
import type { SipUri } from '../sip/types.js';
import type { SocketSpec } from '../transport/types.js';

export { isIpLiteral, normalizeHost };

export class LocalAddresses {
  private readonly sockets: SocketSpec[];
  /** host (lowercase, IPv6 without brackets) -> ports we listen on there */
  private readonly hostPorts = new Map<string, Set<number>>();
  private readonly domains: Set<string>;
  private readonly anyDomain: boolean;

  constructor(sockets: SocketSpec[], domains: string[]) {
    this.sockets = sockets;
    for (const s of sockets) {
      for (const host of [s.address, s.advertise]) {
        if (!host) continue;
        const key = normalizeHost(host);
        let ports = this.hostPorts.get(key);
        if (!ports) this.hostPorts.set(key, (ports = new Set()));
        ports.add(s.port);
      }
    }
    this.domains = new Set(domains.map((d) => d.toLowerCase()));
    this.anyDomain = domains.length === 0;
  }

  /** The URI names one of our sockets (host and port): a Route or Request-URI pointing at this proxy. */
  isMe(uri: SipUri): boolean {
    const ports = this.hostPorts.get(normalizeHost(uri.host));
    if (!ports) return false;
    const port = uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060);
    return ports.has(port);
  }

  /** The socket a URI of ours names (`;s=<id>`, else host, port and transport), as written in our Record-Route. */
  socketOf(uri: SipUri): SocketSpec | undefined {
    const id = uri.params.get('s');
    if (id) return this.sockets.find((s) => s.id === id);
    const host = normalizeHost(uri.host);
    const port = uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060);
    const transport = (uri.params.get('transport') ?? 'udp').toLowerCase();
    return this.sockets.find(
      (s) => s.port === port && s.transport === transport && (normalizeHost(s.address) === host || (s.advertise !== undefined && normalizeHost(s.advertise) === host)),
    );
  }

  /** With proxy.record_route_address anycast: the anycast socket that stands for a unicast one in Record-Route. */
  anycastFor(socket: SocketSpec): SocketSpec | undefined {
    if (socket.role !== 'unicast') return undefined;
    return this.sockets.find((s) => s.role === 'anycast' && s.transport === socket.transport);
  }

  /**
   * The URI's domain is one we are responsible for (registrar, local users).
   * With no domains configured every host name is ours, but an IP literal is
   * ours only when it is one of our own addresses: a request for another IP is relayed.
   */
  isLocalDomain(uri: SipUri): boolean {
    const host = normalizeHost(uri.host);
    if (this.hostPorts.has(host)) return true;
    if (this.anyDomain) return !isIpLiteral(host);
    return this.domains.has(host);
  }
}
