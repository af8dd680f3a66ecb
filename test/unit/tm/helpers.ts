// Test doubles for the transaction layer: a manual clock, a recording socket layer, a recording TU.

import { parseMessage } from '../../../src/sip/parser.js';
import type { SipMessage } from '../../../src/sip/message.js';
import { buildResponse } from '../../../src/sip/response.js';
import type { Destination, Envelope, Sender, SocketSpec, TransportName } from '../../../src/transport/types.js';
import type { TmEvents } from '../../../src/tm/context.js';
import { TransactionLayer } from '../../../src/tm/layer.js';
import { TimerWheel } from '../../../src/tm/timer-wheel.js';
import {
  DEFAULT_TIMERS,
  type ClientHandler,
  type ClientTransaction,
  type ServerTransaction,
  type TimerSettings,
  type TransactionUser,
} from '../../../src/tm/types.js';

export interface Sent {
  msg: SipMessage;
  text: string;
  dest: Destination;
  at: number;
}

export class RecordingSender implements Sender {
  sent: Sent[] = [];
  /** When set, the next send reports this error (asynchronously, like the real one). */
  failNext: Error | undefined;
  pendingErrors: Array<() => void> = [];
  constructor(readonly clock: { now(): number }) {}
  send(data: Buffer, dest: Destination, onError?: (err: Error) => void): void {
    this.sent.push({ msg: parseMessage(data), text: data.toString('latin1'), dest, at: this.clock.now() });
    if (this.failNext && onError) {
      const err = this.failNext;
      this.failNext = undefined;
      this.pendingErrors.push(() => onError(err));
    }
  }
  socketFor(dest: Destination): SocketSpec {
    if (dest.transport === 'udp') return { id: 'any-udp', transport: 'udp', address: '0.0.0.0', advertise: '192.0.2.1', port: 5060, role: 'anycast' };
    return { id: 'core-' + dest.transport, transport: dest.transport, address: '2001:db8::1', port: 5070, role: 'unicast' };
  }
  flushErrors(): void {
    const e = this.pendingErrors;
    this.pendingErrors = [];
    for (const f of e) f();
  }
  take(): Sent[] {
    const s = this.sent;
    this.sent = [];
    return s;
  }
}

export class RecordingUser implements TransactionUser {
  requests: Array<{ req: SipMessage; env: Envelope; server: ServerTransaction | undefined }> = [];
  cancels: Array<{ cancel: ServerTransaction; invite: ServerTransaction | undefined }> = [];
  strays: SipMessage[] = [];
  /** Optional automatic behaviour on a new request. */
  onNew?: (req: SipMessage, st: ServerTransaction | undefined) => void;
  onRequest(req: SipMessage, env: Envelope, server: ServerTransaction | undefined): void {
    this.requests.push({ req, env, server });
    this.onNew?.(req, server);
  }
  onCancel(cancel: ServerTransaction, invite: ServerTransaction | undefined): void {
    this.cancels.push({ cancel, invite });
  }
  onStrayResponse(res: SipMessage): void {
    this.strays.push(res);
  }
}

export class RecordingHandler implements ClientHandler {
  got: Array<{ status: number; res: SipMessage; local: boolean }> = [];
  onResponse(_ct: ClientTransaction, res: SipMessage, env: Envelope | undefined): void {
    this.got.push({ status: res.status, res, local: env === undefined });
  }
  get statuses(): number[] {
    return this.got.map((g) => g.status);
  }
}

export function setup(timers: Partial<TimerSettings> = {}, events?: TmEvents) {
  const clock = { t: 1_000_000, now() { return this.t; } };
  const wheel = new TimerWheel({ tickMs: 10, now: clock.t });
  const sender = new RecordingSender(clock);
  const user = new RecordingUser();
  const layer = new TransactionLayer({
    nodeId: 7,
    branchSecret: 'secret',
    timers: { ...DEFAULT_TIMERS, ...timers },
    clock,
    wheel,
    sender,
    user,
    events,
  });
  /** Move time forward by ms, firing due timers. */
  const advance = (ms: number) => {
    clock.t += ms;
    wheel.advance(clock.t);
  };
  /** Step in small increments up to `ms`, to check timers fire at their exact times. */
  const runFor = (ms: number, step = 10) => {
    for (let i = 0; i < ms; i += step) advance(step);
  };
  return { clock, wheel, sender, user, layer, advance, runFor };
}

export function msg(text: string): SipMessage {
  return parseMessage(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'));
}

export function env(transport: TransportName = 'udp', remote = { address: '198.51.100.7', port: 5062 }, extra: Partial<Envelope> = {}): Envelope {
  return {
    transport,
    remote,
    local: { address: '192.0.2.1', port: 5060 },
    socketId: 'any-udp',
    receivedAt: 0,
    hops: 0,
    ...extra,
  };
}

export function request(
  method: string,
  opts: { branch?: string; cseq?: number; toTag?: string; transport?: string; host?: string; callId?: string; uri?: string } = {},
): SipMessage {
  const branch = opts.branch ?? 'z9hG4bKclient1';
  const via = `SIP/2.0/${opts.transport ?? 'UDP'} ${opts.host ?? '198.51.100.7:5062'}${branch === '' ? '' : ';branch=' + branch}`;
  return msg(
    `${method} ${opts.uri ?? 'sip:bob@example.com'} SIP/2.0
Via: ${via}
Max-Forwards: 70
From: <sip:alice@example.com>;tag=ftag
To: <sip:bob@example.com>${opts.toTag ? ';tag=' + opts.toTag : ''}
Call-ID: ${opts.callId ?? 'call-1@example.com'}
CSeq: ${opts.cseq ?? 1} ${method === 'CANCEL' || method === 'ACK' ? method : method}
Content-Length: 0

`,
  );
}

/** A response to `req` as the next hop would send it (all Vias echoed). */
export function reply(req: SipMessage, status: number, toTag?: string): SipMessage {
  // Re-parse so it looks like something that came off the wire.
  return parseMessage(buildResponse(req, status, toTag === undefined ? {} : { toTag }).serialize());
}

/** What the layer sent, as "METHOD" or status numbers. */
export function summary(sent: Sent[]): string[] {
  return sent.map((s) => (s.msg.isRequest ? s.msg.method : String(s.msg.status)));
}

/** Send times relative to a start, for retransmission schedules. */
export function times(sent: Sent[], start: number): number[] {
  return sent.map((s) => s.at - start);
}
