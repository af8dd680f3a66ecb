// One UDP socket: receives datagrams (one SIP message each) and sends from
// the same socket, so replies leave from the address the request came to.

import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { TransportError } from '../core/errors.js';
import { familyOf, formatEndpoint, normalizeAddress, toSocketFamily, type Family } from './address.js';
import { bindError } from './bind-error.js';
import { countSendError, failSend, type TransportContext } from './context.js';
import { looksLikeStun, stunBindingResponse } from './stun.js';
import type { Destination, Endpoint, Envelope, SocketSpec } from './types.js';

const RECV_BUFFER = 4 * 1024 * 1024;
const CR = 0x0d;
const LF = 0x0a;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves every destination through its `lookup` before sending, dns.lookup by default, which
 * for an IP literal still defers the send to process.nextTick through a fresh closure. Destinations
 * reaching a socket are IP literals (resolution happened above), so answer those at once; anything
 * else still goes to dns.lookup.
 */
function literalLookup(address: string, family: number, callback: LookupCallback): void {
  const f = isIP(address);
  if (f !== 0) callback(null, address, f);
  else dnsLookup(address, { family }, callback);
}

/** A datagram of CR/LF only is a NAT keep-alive (RFC 5626 4.4.2 uses STUN; many UAs send CRLF), not SIP. */
function isKeepalive(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c !== CR && c !== LF) return false;
  }
  return true;
}

export class UdpListener {
  readonly spec: SocketSpec;
  private readonly ctx: TransportContext;
  private readonly family: Family;
  private socket: dgram.Socket | null = null;
  /** Shared by every Envelope from this socket, hence frozen. */
  private local: Readonly<Endpoint>;
  /** Shared send callback when the caller gave no onError: counts, allocates nothing per send. */
  private readonly sent = (err: Error | null): void => {
    if (err) countSendError(this.ctx.stats, 'write_failed');
  };

  constructor(spec: SocketSpec, ctx: TransportContext) {
    const family = familyOf(spec.address);
    if (family === 0) throw new TransportError(`socket '${spec.id}': '${spec.address}' is not an IP address`);
    this.spec = spec;
    this.ctx = ctx;
    this.family = family;
    this.local = Object.freeze({ address: spec.address, port: spec.port });
  }

  /** Binds; resolves with the bound port (the real one when spec.port is 0). */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({
        type: this.family === 6 ? 'udp6' : 'udp4',
        reuseAddr: false,
        lookup: literalLookup as never,
        // A garbage-collection pause must not overflow the kernel's queue (the default is ~200 KB, a few
        // hundred ms of traffic at 1,000 calls/s): ask for 4 MB; Linux caps it at net.core.rmem_max.
        recvBufferSize: RECV_BUFFER,
      });
      const onBindError = (err: Error): void => {
        socket.close();
        reject(bindError(this.spec, err));
      };
      socket.once('error', onBindError);
      socket.bind({ address: this.spec.address, port: this.spec.port, exclusive: true }, () => {
        socket.off('error', onBindError);
        // After bind, socket errors (e.g. ICMP-reported send failures) are per-send; never fatal.
        socket.on('error', this.sent);
        socket.on('message', this.onDatagram);
        this.socket = socket;
        this.local = Object.freeze({ address: this.spec.address, port: socket.address().port });
        resolve(this.local.port);
      });
    });
  }

  stop(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }

  send(data: Buffer, dest: Destination, onError?: (err: Error) => void): void {
    const socket = this.socket;
    if (socket === null) {
      failSend(this.ctx.stats, onError, new TransportError(`socket '${this.spec.id}' is not open`), 'not_open');
      return;
    }
    this.ctx.stats.udpOut++;
    const address = toSocketFamily(dest.address, this.family);
    const stats = this.ctx.stats;
    try {
      socket.send(
        data,
        dest.port,
        address,
        onError === undefined
          ? this.sent
          : (err) => {
              if (err) failSend(stats, onError, new TransportError(`udp send to ${formatEndpoint(dest.address, dest.port)} failed: ${err.message}`), 'write_failed');
            },
      );
    } catch (err) {
      // dgram throws synchronously on a bad port or a closed socket.
      failSend(stats, onError, new TransportError(`udp send to ${formatEndpoint(dest.address, dest.port)} failed: ${(err as Error).message}`), 'write_failed');
    }
  }

  // Arrow property: one bound listener for the socket's lifetime, none per datagram.
  private readonly onDatagram = (data: Buffer, rinfo: dgram.RemoteInfo): void => {
    const stats = this.ctx.stats;
    if (isKeepalive(data)) {
      stats.keepalives++;
      return;
    }
    if (looksLikeStun(data)) {
      this.answerStun(data, rinfo);
      return;
    }
    stats.udpIn++;
    const env: Envelope = {
      transport: 'udp',
      remote: { address: normalizeAddress(rinfo.address), port: rinfo.port },
      local: this.local,
      socketId: this.spec.id,
      receivedAt: this.ctx.now(),
      hops: 0,
    };
    // Over max_message_size (only possible when it is set below what a datagram carries): flagged for a 513.
    if (data.length > this.ctx.maxMessageSize) env.oversize = data.length;
    this.ctx.deliver(data, env);
  };

  /** A STUN keep-alive (stun.ts) gets its Binding answer from this socket; other STUN is counted and dropped. */
  private answerStun(data: Buffer, rinfo: dgram.RemoteInfo): void {
    const res = stunBindingResponse(data, { address: normalizeAddress(rinfo.address), port: rinfo.port });
    if (!res) {
      this.ctx.stats.stunDropped++;
      return;
    }
    this.ctx.stats.stunKeepalives++;
    this.socket?.send(res, rinfo.port, rinfo.address, this.sent);
  }
}
