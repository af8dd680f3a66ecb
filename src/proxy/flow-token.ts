// Flow tokens (in the spirit of RFC 5626 section 5.2): the user part of our
// Record-Route URI names the WebSocket connection a dialog's peer sits on,
// because its Contact (usually *.invalid, RFC 7118) cannot be dialled. A MAC
// keeps a client from steering requests onto someone else's connection.

import { createHmac } from 'node:crypto';
import type { Destination } from '../transport/types.js';

const MAC_CHARS = 8;

export class FlowTokens {
  constructor(private readonly secret: string | Buffer) {}

  encode(dest: Destination): string {
    const body = Buffer.from(`${dest.connectionId ?? 0}|${dest.address}|${dest.port}`, 'latin1').toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The connection a token names, or undefined for anything that is not a valid token of ours. */
  decode(user: string | undefined): Destination | undefined {
    if (!user) return undefined;
    const dot = user.indexOf('.');
    if (dot <= 0) return undefined;
    const body = user.slice(0, dot);
    if (user.slice(dot + 1) !== this.mac(body)) return undefined;
    const [conn, address, port] = Buffer.from(body, 'base64url').toString('latin1').split('|');
    const connectionId = Number(conn);
    const portNum = Number(port);
    if (!address || !Number.isInteger(connectionId) || !Number.isInteger(portNum)) return undefined;
    return { transport: 'ws', address, port: portNum, connectionId };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, MAC_CHARS);
  }
}
