// Flow tokens (in the spirit of RFC 5626 section 5.2): the user part of our
// Record-Route or Path URI names the flow a peer sits on, so the requests that
// come back along that route (a dialog's ACK, re-INVITE and BYE; calls a home
// registrar sends to a phone we relayed the REGISTER of) reach it on that flow:
// - a TCP or WebSocket connection, naming the node that holds it, so whichever
//   node a later request lands on relays it there. A WebSocket Contact is
//   usually *.invalid (RFC 7118), and a phone behind NAT or a firewall cannot
//   be dialled at its Contact;
// - a UDP source address and the socket it came in on (the anycast address,
//   where the peer's NAT pinhole points), for a peer behind NAT.
// A MAC keeps a client from steering requests onto someone else's flow.

import { createHmac } from 'node:crypto';
import { sentFromBehindNat } from '../location/nat.js';
import { parseNameAddr } from '../sip/headers.js';
import { namesEndpoint } from '../sip/host.js';
import type { SipMessage } from '../sip/message.js';
import type { SipUri } from '../sip/types.js';
import { localFlows, type Destination, type Envelope, type FlowMap } from '../transport/types.js';

const MAC_CHARS = 8;
const TRANSPORTS = { t: 'tcp', w: 'ws', u: 'udp' } as const;

/** A flow a token names: where to send, and (streams) the node and connection id that hold it. */
export interface FlowRef {
  /** Streams: always connectionOnly, the transport never dials the address a connection came from. */
  destination: Destination;
  /** 0 for UDP. */
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
   * Tokens for the two Record-Route entries of a dialog-initiating request: the flow it came in
   * on (a stream connection, or a UDP peer behind NAT), and the connection it leaves on (a phone
   * registered over TCP/WS). Undefined for a side that needs none.
   */
  forRecordRoute(req: SipMessage, env: Envelope, out: Destination): { inbound?: string; outbound?: string } {
    const inbound = env.transport === 'udp' && !behindNat(req, env) ? undefined : this.arrival(req, env);
    const outbound = out.connectionId === undefined ? undefined : this.encode(out, !out.connectionOnly);
    return { inbound, outbound };
  }

  /** The token of the flow a request arrived on (its Path entry when we relay a REGISTER, RFC 5626 5.1). */
  arrival(req: SipMessage, env: Envelope): string | undefined {
    const dest: Destination = { transport: env.transport, address: env.remote.address, port: env.remote.port };
    if (env.connectionId !== undefined) dest.connectionId = env.connectionId;
    else dest.socketId = env.socketId;
    return this.encode(dest, !contactIsSource(req, env));
  }

  /** A token for the flow `dest` is on (its connectionId as this node knows it), or undefined when it names none. */
  encode(dest: Destination, dialable = false): string | undefined {
    let head: string;
    if (dest.transport === 'udp') {
      if (dest.socketId === undefined || dest.socketId.includes('|')) return undefined;
      head = `u|0|0|${dest.address}|${dest.port}|${dest.socketId}`;
    } else {
      if (dest.connectionId === undefined || (dest.transport !== 'tcp' && dest.transport !== 'ws')) return undefined;
      const { node, connectionId } = this.flows.holder(dest.connectionId);
      const kind = dest.transport === 'tcp' ? (dialable ? 'td' : 't') : 'w';
      head = `${kind}|${node}|${connectionId}|${dest.address}|${dest.port}`;
    }
    const body = Buffer.from(head, 'latin1').toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The flow a token names, or undefined for anything that is not a valid token of ours. */
  decode(user: string | undefined): FlowRef | undefined {
    if (!user) return undefined;
    const dot = user.indexOf('.');
    if (dot <= 0) return undefined;
    const body = user.slice(0, dot);
    if (user.slice(dot + 1) !== this.mac(body)) return undefined;
    const [kind = '', nodeText, conn, address, port, socketId] = Buffer.from(body, 'base64url').toString('latin1').split('|');
    const transport = TRANSPORTS[kind[0] as keyof typeof TRANSPORTS];
    const node = Number(nodeText);
    const connectionId = Number(conn);
    const portNum = Number(port);
    if (!transport || kind.length > 2 || !address || ![node, connectionId, portNum].every(Number.isSafeInteger)) return undefined;
    if (transport === 'udp') {
      if (!socketId) return undefined;
      return { destination: { transport, address, port: portNum, socketId }, node: 0, connectionId: 0, dialable: false };
    }
    return {
      destination: { transport, address, port: portNum, connectionId: this.flows.reach(node, connectionId), connectionOnly: true },
      node,
      connectionId,
      dialable: kind === 'td',
    };
  }

  /** The tokens in the user parts of our Route entries, one per entry (undefined: none, or not ours). Decoded once per request. */
  decodeAll(ours: readonly SipUri[]): Array<FlowRef | undefined> {
    return ours.map((u) => (u.user ? this.decode(u.user) : undefined));
  }

  /** The request arrived on the flow `ref` names (whichever node relayed it here). */
  isArrival(ref: FlowRef, env: Envelope): boolean {
    if (ref.destination.transport === 'udp') {
      return env.transport === 'udp' && env.remote.address === ref.destination.address && env.remote.port === ref.destination.port;
    }
    if (env.connectionId === undefined) return false;
    const h = this.flows.holder(env.connectionId);
    return h.node === ref.node && h.connectionId === ref.connectionId;
  }

  /**
   * The tag of our Record-Route entries for the dialog of `callId` (`;d=`): an in-dialog request
   * whose Route of ours carries it really is in a dialog we record-routed, so the access policy
   * lets it follow its route; a Route of ours written by hand (to relay through us) lacks it.
   */
  routeTag(callId: string): string {
    return this.mac('d|' + callId);
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, MAC_CHARS);
  }
}

function contactUri(req: SipMessage) {
  const contact = req.get('contact');
  if (contact === undefined) return undefined;
  try {
    return parseNameAddr(contact).uri;
  } catch {
    return undefined;
  }
}

/** The request's Contact is the address its connection came from: the peer listens nowhere else (or is behind NAT). */
function contactIsSource(req: SipMessage, env: Envelope): boolean {
  const uri = contactUri(req);
  return uri === undefined || namesEndpoint(uri.host, uri.port, env.remote.address, env.remote.port);
}

/** A UDP peer behind NAT (location/nat.ts): its Contact cannot be reached, its source can. */
function behindNat(req: SipMessage, env: Envelope): boolean {
  const uri = contactUri(req);
  try {
    return uri !== undefined && sentFromBehindNat(req.topVia, uri, env);
  } catch {
    return false;
  }
}
