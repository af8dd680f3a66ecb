// Which of the node's sockets a forwarded request leaves from, when routing
// does not name one: the side it came in on, the side our double Record-Route
// says it goes to, or off the anycast socket toward the core.

import { parseNameAddr } from '../sip/headers.js';
import type { SipMessage } from '../sip/message.js';
import type { SipUri } from '../sip/types.js';
import { parseUriShared } from '../sip/uri.js';
import type { Envelope, SocketSpec } from '../transport/types.js';
import type { LocalAddresses } from './local-address.js';
import { sameSide } from './targets.js';

export class SocketChoice {
  constructor(
    private readonly sockets: () => SocketSpec[],
    private readonly local: LocalAddresses,
  ) {}

  byId(id: string): SocketSpec | undefined {
    return this.sockets().find((s) => s.id === id);
  }

  /** Stay on the socket the request came in on when the next hop uses the same transport. */
  sameSide(req: SipMessage, env: Envelope): string | undefined {
    try {
      const routes = req.getAll('route');
      return sameSide(routes.length ? parseNameAddr(routes[0]!).uri : parseUriShared(req.uri), env);
    } catch {
      return undefined;
    }
  }

  /**
   * After a double Record-Route, the last of our entries a request removes faces where it goes next
   * (the route set is in travel order): leave from its socket (Kamailio's double-RR socket). Undefined
   * when that is the socket the request came in on. With anycast entries both name the same address,
   * and only this order tells the sides apart.
   */
  fromRoute(ours: SipUri[], env: Envelope): string | undefined {
    if (ours.length < 2) return undefined;
    const socket = this.local.socketOf(ours[ours.length - 1]!);
    return socket && socket.id !== env.socketId ? socket.id : undefined;
  }

  /**
   * A request that came in on the anycast side and still has a foreign Route once ours are gone is
   * on its way to the callee's side: another node's unicast Record-Route entry, or a core proxy.
   * It leaves from a unicast socket: the anycast address is the receiving node's own address too,
   * and a host drops packets that arrive from one of its own addresses.
   */
  offAnycast(req: SipMessage, env: Envelope): string | undefined {
    if (!req.has('route')) return undefined;
    const sockets = this.sockets();
    if (sockets.find((s) => s.id === env.socketId)?.role !== 'anycast') return undefined;
    return sockets.find((s) => s.role === 'unicast' && s.transport === env.transport)?.id;
  }
}
