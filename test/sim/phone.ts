// A simulated SIP phone: the real transaction layer (src/tm, RFC 3261 17 with
// its retransmissions) under a small UA core that does what softphones do:
// INVITE / CANCEL / ACK for 2xx (re-sent on every 2xx retransmission) / BYE
// from either side / re-INVITE / REGISTER / OPTIONS, and as the callee 180,
// 200 retransmitted until the ACK (RFC 3261 13.3.1.4), 486, 487 on CANCEL.

import type { Clock } from '../../src/core/clock.js';
import { parseNameAddr } from '../../src/sip/headers.js';
import { SipMessage } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { buildResponse } from '../../src/sip/response.js';
import { TransactionLayer } from '../../src/tm/layer.js';
import type { TimerWheel } from '../../src/tm/timer-wheel.js';
import type { ClientHandler, ClientTransaction, ServerTransaction, TransactionUser } from '../../src/tm/types.js';
import type { Destination, Envelope, Sender, SocketSpec } from '../../src/transport/types.js';
import type { Prng } from './prng.js';

export const UA_SECRET = 'simulated-phones-own-secret';

/** What a phone needs from the simulation around it. */
export interface PhoneWorld {
  readonly prng: Prng;
  readonly clock: Clock;
  readonly wheel: TimerWheel;
  readonly t1: number;
  readonly t2: number;
  at(time: number, fn: () => void): void;
  /** Put a datagram on the simulated network from this phone. */
  send(from: string, data: Buffer, dest: Destination): void;
  /** The phone saw a new server transaction (invariant: one branch per request). */
  sawRequest(phone: Phone, req: SipMessage): void;
  violation(text: string): void;
}

export interface Dialog {
  callId: string;
  localTag: string;
  remoteTag: string;
  localUri: string;
  remoteUri: string;
  remoteTarget: string;
  /** Route set, in the order it is sent. */
  routes: string[];
  cseq: number;
}

/** One phone: caller (uac) or callee (uas) of one call. */
export class Phone implements TransactionUser, Sender {
  readonly tm: TransactionLayer;
  readonly spec: SocketSpec;
  dialog: Dialog | undefined;
  /** Free-form log of what happened, for failure reports. */
  readonly trace: string[] = [];
  /** The call logic reacting to this phone's events (set by Call). */
  app!: PhoneApp;

  constructor(
    readonly world: PhoneWorld,
    readonly address: string,
    readonly uri: string,
  ) {
    this.spec = { id: 'ua', transport: 'udp', address, port: 5060, role: 'unicast' };
    this.tm = new TransactionLayer({
      nodeId: 65000,
      branchSecret: UA_SECRET,
      timers: { t1: world.t1, t2: world.t2, t4: 5000, timerC: 0 },
      clock: world.clock,
      wheel: world.wheel,
      sender: this,
      user: this,
    });
  }

  note(s: string): void {
    this.trace.push(`${Math.round(this.world.clock.now())} ${s}`);
  }

  // ---- network ---------------------------------------------------------------

  send(data: Buffer, dest: Destination): void {
    this.world.send(this.address, data, dest);
  }

  socketFor(): SocketSpec {
    return this.spec;
  }

  receive(data: Buffer, env: Envelope): void {
    let msg: SipMessage;
    try {
      msg = parseMessage(data);
    } catch (err) {
      this.world.violation(`phone ${this.address} got an unparseable message: ${(err as Error).message}`);
      return;
    }
    this.deliver(msg, env);
  }

  /** A message already parsed (a user's address hands each call's messages to that call's phone). */
  deliver(msg: SipMessage, env: Envelope): void {
    this.tm.receive(msg, env);
  }

  // ---- TransactionUser ---------------------------------------------------------

  onRequest(req: SipMessage, _env: Envelope, st: ServerTransaction | undefined): void {
    this.note(`in ${req.method} ${req.cseq.seq}`);
    if (st === undefined) {
      if (req.method === 'ACK') this.app.onAck(this, req);
      return;
    }
    this.world.sawRequest(this, req);
    this.app.onRequest(this, req, st);
  }

  onCancel(cancelTxn: ServerTransaction, invite: ServerTransaction | undefined): void {
    this.note('in CANCEL');
    if (!invite) {
      cancelTxn.respond(buildResponse(cancelTxn.request, 481));
      return;
    }
    cancelTxn.respond(buildResponse(cancelTxn.request, 200));
    this.app.onCancel(this, invite);
  }

  onStrayResponse(res: SipMessage): void {
    // A 2xx retransmission after our INVITE transaction ended (timer M): the ACK is ours to repeat.
    if (res.status >= 200 && res.status < 300 && res.cseq.method === 'INVITE') this.app.onLate2xx(this, res);
  }

  // ---- building requests -----------------------------------------------------------

  /** An out-of-dialog request to `target` through the anycast proxy. */
  newRequest(method: string, target: string, toUri: string, callId: string, fromTag: string, cseq: number): SipMessage {
    const req = SipMessage.request(method, target);
    req.append('Max-Forwards', '70');
    req.append('From', `<${this.uri}>;tag=${fromTag}`);
    req.append('To', `<${toUri}>`);
    req.append('Call-ID', callId);
    req.append('CSeq', `${cseq} ${method}`);
    req.append('Contact', `<sip:${this.address}:5060>`);
    req.append('Content-Length', '0');
    return req;
  }

  /** An in-dialog request (BYE, re-INVITE, ACK for a 2xx). CSeq: next one, or `cseq` for an ACK. */
  dialogRequest(method: string, cseq?: number): SipMessage {
    const d = this.dialog!;
    const n = cseq ?? ++d.cseq;
    const req = SipMessage.request(method, d.remoteTarget);
    req.append('Max-Forwards', '70');
    req.append('From', `<${d.localUri}>;tag=${d.localTag}`);
    req.append('To', `<${d.remoteUri}>;tag=${d.remoteTag}`);
    req.append('Call-ID', d.callId);
    req.append('CSeq', `${n} ${method}`);
    for (const r of d.routes) req.append('Route', r);
    if (method === 'INVITE') req.append('Contact', `<sip:${this.address}:5060>`);
    req.append('Content-Length', '0');
    return req;
  }

  /** Where an in-dialog request goes first: the top Route (loose routing), else the remote target. */
  dialogDestination(): Destination {
    const d = this.dialog!;
    const uri = parseNameAddr(d.routes[0] ?? `<${d.remoteTarget}>`).uri;
    return { transport: 'udp', address: uri.host, port: uri.port ?? 5060 };
  }

  /** ACK for a 2xx, with a Via of its own (it is a new transaction of one message, RFC 3261 13.2.2.4). */
  ack2xx(cseq: number, branch: string): Buffer {
    const ack = this.dialogRequest('ACK', cseq);
    ack.prepend('Via', `SIP/2.0/UDP ${this.address}:5060;branch=${branch}`);
    return ack.serialize();
  }

  request(req: SipMessage, dest: Destination, handler: ClientHandler): ClientTransaction {
    this.note(`out ${req.method} ${req.cseq.seq}`);
    return this.tm.request(req, dest, handler);
  }

  respond(st: ServerTransaction, status: number, extra: Array<[string, string]> = []): SipMessage {
    const req = st.request;
    const headers: Array<[string, string]> = [...extra];
    if (req.method === 'INVITE' && status > 100 && status < 300) {
      headers.push(['Contact', `<sip:${this.address}:5060>`]);
      for (const rr of req.getAll('record-route')) headers.push(['Record-Route', rr]);
    }
    const res = buildResponse(req, status, { toTag: this.dialog?.localTag, headers });
    this.note(`out ${status} ${req.method}`);
    st.respond(res);
    return res;
  }
}

/** The call logic behind a phone. */
export interface PhoneApp {
  onRequest(phone: Phone, req: SipMessage, st: ServerTransaction): void;
  onAck(phone: Phone, ack: SipMessage): void;
  onCancel(phone: Phone, invite: ServerTransaction): void;
  onLate2xx(phone: Phone, res: SipMessage): void;
}
