// Message size and the choice of transport (RFC 3261 18.1.1). A request that
// would leave over UDP and is larger than proxy.udp_mtu_threshold goes over TCP
// instead when the next hop allows it, so IP fragmentation cannot lose it (a
// large SDP, many Record-Route or Via entries). A message that cannot be sent
// at all (over transport.max_message_size, or over what one UDP datagram can
// carry) is refused: 513 for a request, a counted drop for an ACK.
//
// Like Kamailio's udp_mtu / udp_mtu_try_proto, only our Via changes: the
// Record-Route entries built for the UDP side stay, so the dialog's later,
// smaller requests use UDP again.

import { isIP } from 'node:net';
import { MessageTooLargeError } from '../core/errors.js';
import type { SipMessage } from '../sip/message.js';
import type { Destination, SocketSpec } from '../transport/types.js';

/** Largest UDP payload: 65535 less the IPv4 (20) and UDP (8) headers; IPv6's payload length excludes its own header. */
export const MAX_UDP_PAYLOAD = { ipv4: 65_507, ipv6: 65_527 } as const;

/** Upper bound of an anysip branch: `z9hG4bK.` + kind + 20 chars + `.` + 8-char loop hash (src/tm/branch.ts). */
const MAX_BRANCH = 38;

export interface MtuSettings {
  /** proxy.udp_mtu_threshold: bytes; 0 turns the UDP-to-TCP switch off. */
  udp_mtu_threshold: number;
  /** transport.max_message_size: nothing larger is sent, on any transport. */
  max_message_size: number;
}

/** What the proxy sends to: a Destination, maybe resolved from a URI that named its transport (resolve.ts). */
export type SizedDestination = Destination & { explicitTransport?: boolean };

/** Counters, exported under `anysip_mtu_` (src/proxy/README.md, Statistics). */
export interface MtuCounts {
  /** Requests sent over TCP instead of UDP for their size. */
  udp_to_tcp: number;
  /** Requests over the threshold sent over UDP anyway: `transport=udp` in the URI, or no TCP socket on that side. */
  udp_over_threshold: number;
  /** Requests and ACKs refused for their size (513, or the ACK dropped). */
  too_large: number;
}

/** The 513 of anysip: every one is built here (ingress for received messages, the proxy for relayed ones). */
/** Reason phrase of the 513 for a message of `size` bytes over `limit`. */
export function tooLargeReason(size: number, limit: number): string {
  return `Message Too Large (${size} bytes, max ${limit})`;
}

/** Bytes of the Via the transaction layer will prepend when sending from `sock` (upper bound). */
export function viaBytes(sock: SocketSpec): number {
  const host = sock.advertise ?? sock.address;
  const hostLen = host.includes(':') && host.charCodeAt(0) !== 91 ? host.length + 2 : host.length;
  // "Via: SIP/2.0/UDP " + host + ":" + port + ";branch=" + branch + CRLF
  return 17 + hostLen + 1 + String(sock.port).length + 8 + MAX_BRANCH + 2;
}

export class MtuPolicy {
  readonly counts: MtuCounts = { udp_to_tcp: 0, udp_over_threshold: 0, too_large: 0 };

  constructor(
    private readonly settings: MtuSettings,
    private readonly sockets: () => SocketSpec[],
    private readonly socketFor: (dest: Destination) => SocketSpec,
  ) {}

  /**
   * Where `req` (complete but for our Via) really goes: `dest`, or the same address and port over
   * TCP when it is over the threshold for UDP and the next hop allows it. Throws
   * MessageTooLargeError when it cannot be sent at all.
   */
  fit(req: SipMessage, dest: SizedDestination): Destination {
    const bytes = req.byteLength();
    const sock = this.socketFor(dest);
    const size = bytes + viaBytes(sock);
    const max = this.settings.max_message_size;
    if (dest.transport !== 'udp') return this.within(dest, size, max);
    const threshold = this.settings.udp_mtu_threshold;
    if (threshold > 0 && size > threshold) {
      const tcp = dest.explicitTransport ? undefined : this.tcpBeside(sock);
      if (tcp !== undefined) {
        const moved = this.within({ transport: 'tcp', address: dest.address, port: dest.port, socketId: tcp.id }, bytes + viaBytes(tcp), max);
        this.counts.udp_to_tcp++;
        return moved;
      }
    }
    const udpMax = isIP(dest.address) === 6 ? MAX_UDP_PAYLOAD.ipv6 : MAX_UDP_PAYLOAD.ipv4;
    const sent = this.within(dest, size, Math.min(max, udpMax));
    // RFC 3261 says MUST for TCP here; without a way to it, a fragmented datagram still beats a refusal.
    if (threshold > 0 && size > threshold) this.counts.udp_over_threshold++;
    return sent;
  }

  /**
   * The TCP socket on the same side as a UDP one: same address (and role), else the same role
   * and address family. Undefined: the node cannot reach that side over TCP.
   */
  private tcpBeside(udp: SocketSpec): SocketSpec | undefined {
    const family = isIP(udp.address);
    let sameSide: SocketSpec | undefined;
    for (const s of this.sockets()) {
      if (s.transport !== 'tcp' || s.role !== udp.role) continue;
      if (s.address === udp.address) return s;
      sameSide ??= isIP(s.address) === family ? s : undefined;
    }
    return sameSide;
  }

  private within(dest: Destination, size: number, limit: number): Destination {
    if (size <= limit) return dest;
    this.counts.too_large++;
    throw new MessageTooLargeError(`${size} bytes over ${dest.transport} exceeds ${limit}`, size, limit);
  }
}
