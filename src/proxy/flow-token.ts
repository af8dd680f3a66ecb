// Flow tokens (in the spirit of RFC 5626 section 5.2): the user part of our
// Record-Route URI names the TCP or WebSocket connection a dialog's peer sits
// on, so the dialog's later requests (ACK, re-INVITE, BYE) reach it on that
// connection: a WebSocket Contact is usually *.invalid (RFC 7118), and a phone
// behind NAT or a firewall cannot be dialled at its Contact. The token names the
// node that holds the connection, so whichever node a later request lands on
// relays it there. A MAC keeps a client from steering requests onto someone
// else's connection.

import { createHmac } from 'node:crypto';
import { parseNameAddr } from '../sip/headers.js';
import { normalizeHost } from '../sip/host.js';
import type { SipMessage } from '../sip/message.js';
import { localFlows, type Destination, type Envelope, type FlowMap } from '../transport/types.js';

const MAC_CHARS = 8;
const TRANSPORTS = { t: 'tcp', w: 'ws' } as const;

/** A connection a token names: where to send, and the node and connection id that hold it. */
export interface FlowRef {
  /** Always connectionOnly: the transport never dials the address a connection came from. */
  destination: Destination;
  node: number;
  connectionId: number;
  /**
   * The peer can also be dialled at its Contact (a TCP trunk that listens where its Contact says):
   * when the connection is gone, route the request as it reads. Not for a WebSocket peer or a
   * phone whose Contact is the connection itself.
   */
  dialable: boolean;
}

export class FlowTokens {
  /** Single node: every connection is here. A cluster node gets the anycast layer's map. */
  flows: FlowMap;

  constructor(
    private readonly secret: string | Buffer,
    selfId = 0,
  ) {
    this.flows = localFlows(selfId);
  }

  /**
   * Tokens for the two Record-Route entries of a dialog-initiating request: the connection it came
   * in on, and the one it leaves on (a phone registered over TCP/WS). Undefined for a side that is
   * on no stream connection.
   */
  forRecordRoute(req: SipMessage, env: Envelope, out: Destination): { inbound?: string; outbound?: string } {
    const inbound =
      env.connectionId === undefined
        ? undefined
        : this.encode(
            { transport: env.transport, address: env.remote.address, port: env.remote.port, connectionId: env.connectionId },
            !contactIsSource(req, env),
          );
    const outbound = out.connectionId === undefined ? undefined : this.encode(out, !out.connectionOnly);
    return { inbound, outbound };
  }

  /** A token for the stream connection `dest` is on (its connectionId as this node knows it), or undefined when it is on none. */
  encode(dest: Destination, dialable = false): string | undefined {
    if (dest.connectionId === undefined || (dest.transport !== 'tcp' && dest.transport !== 'ws')) return undefined;
    const { node, connectionId } = this.flows.holder(dest.connectionId);
    const kind = dest.transport === 'tcp' ? 't' : 'w';
    const fallback = dialable && dest.transport === 'tcp' ? 'd' : '';
    const body = Buffer.from(`${kind}${fallback}|${node}|${connectionId}|${dest.address}|${dest.port}`, 'latin1').toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The connection a token names, or undefined for anything that is not a valid token of ours. */
  decode(user: string | undefined): FlowRef | undefined {
    if (!user) return undefined;
    const dot = user.indexOf('.');
    if (dot <= 0) return undefined;
    const body = user.slice(0, dot);
    if (user.slice(dot + 1) !== this.mac(body)) return undefined;
    const [kind, nodeText, conn, address, port] = Buffer.from(body, 'base64url').toString('latin1').split('|');
    const transport = TRANSPORTS[kind?.[0] as keyof typeof TRANSPORTS];
    const node = Number(nodeText);
    const connectionId = Number(conn);
    const portNum = Number(port);
    if (!transport || kind!.length > 2 || !address || ![node, connectionId, portNum].every(Number.isSafeInteger)) return undefined;
    return {
      destination: { transport, address, port: portNum, connectionId: this.flows.reach(node, connectionId), connectionOnly: true },
      node,
      connectionId,
      dialable: kind === 'td',
    };
  }

  /** The connection a message arrived on is the one `ref` names (whichever node relayed it here). */
  isArrival(ref: FlowRef, arrivalConnectionId: number | undefined): boolean {
    if (arrivalConnectionId === undefined) return false;
    const h = this.flows.holder(arrivalConnectionId);
    return h.node === ref.node && h.connectionId === ref.connectionId;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, MAC_CHARS);
  }
}

/** The request's Contact is the address its connection came from: the peer listens nowhere else (or is behind NAT). */
function contactIsSource(req: SipMessage, env: Envelope): boolean {
  const contact = req.get('contact');
  if (contact === undefined) return true;
  try {
    const { uri } = parseNameAddr(contact);
    return normalizeHost(uri.host) === env.remote.address.toLowerCase() && (uri.port ?? 5060) === env.remote.port;
  } catch {
    return true;
  }
}
