// One simulated call (or REGISTER / OPTIONS exchange) between two phones, the
// plan it follows, and what each side saw. The expected outcome per plan is
// checked by check.ts once both sides are done.

import type { SipMessage } from '../../src/sip/message.js';
import { parseNameAddr } from '../../src/sip/headers.js';
import type { ClientHandler, ClientTransaction, ServerTransaction } from '../../src/tm/types.js';
import type { Destination, Envelope } from '../../src/transport/types.js';
import { ANYCAST, SIP_PORT } from './network.js';
import type { Phone, PhoneApp, PhoneWorld } from './phone.js';
import type { Prng } from './prng.js';

export type CallKind = 'answer' | 'busy' | 'cancel' | 'register' | 'options';

export interface Plan {
  kind: CallKind;
  /** ms after the INVITE reaches the callee: 180. */
  ring: number;
  /** ms after the INVITE reaches the callee: the final answer (200 or 486). */
  answer: number;
  /** ms after the caller's first provisional: CANCEL (kind 'cancel'). */
  cancelAfter: number;
  /** ms from the 2xx (caller) / the ACK (callee) to the BYE. */
  talk: number;
  byeBy: 'caller' | 'callee';
  reinviteBy: 'none' | 'caller' | 'callee';
  /** REGISTER: its Expires (default 60; 0 unregisters) and Request-URI (default sip:reg.sim). */
  expires?: number;
  registrar?: string;
  /** The location plan's user this call registers or calls (location-plan.ts). */
  user?: number;
}

/** The location plan's next action for user `user`: REGISTER (26%: 40% of them 10..20 s, else 60..120 s), unregister (6%), else a call to it. */
export function makeLocationPlan(prng: Prng, user: number, registering: boolean, registrar: string): Plan {
  const r = prng.next();
  const expires = prng.chance(0.4) ? 10 + prng.int(11) : 60 + prng.int(61);
  let plan = makePlan(prng);
  while (plan.kind === 'register' || plan.kind === 'options') plan = makePlan(prng);
  if (registering || r >= 0.32) return { ...plan, user };
  return { ...plan, kind: 'register', expires: r < 0.26 ? expires : 0, registrar, user };
}

export function makePlan(prng: Prng): Plan {
  const r = prng.next();
  const kind: CallKind = r < 0.45 ? 'answer' : r < 0.6 ? 'busy' : r < 0.8 ? 'cancel' : r < 0.9 ? 'register' : 'options';
  const ring = prng.range(20, 400);
  const cancelAfter = prng.range(100, 1500);
  let answer = ring + prng.range(50, 2500);
  // Half of the cancelled calls answer close to when the CANCEL arrives: the CANCEL / 200 race.
  if (kind === 'cancel') answer = prng.chance(0.5) ? ring + cancelAfter + prng.range(-60, 120) : ring + 20_000;
  const rr = prng.next();
  return {
    kind,
    ring,
    answer: Math.max(answer, ring + 1),
    cancelAfter,
    talk: prng.range(1500, 5000),
    byeBy: prng.chance(0.6) ? 'caller' : 'callee',
    reinviteBy: rr < 0.8 ? 'none' : rr < 0.9 ? 'caller' : 'callee',
  };
}

const PROXY: Destination = { transport: 'udp', address: ANYCAST, port: SIP_PORT };

export class Call implements PhoneApp {
  readonly startedAt: number;
  doneAt = 0;
  finished = false;
  // What the caller saw.
  /** Final status of the caller's initial request (INVITE / REGISTER / OPTIONS); 0 = none yet. */
  callerFinal = 0;
  byeStatus = 0;
  byeFrom: 'caller' | 'callee' | undefined;
  reinviteStatus = 0;
  // What the callee did.
  calleeFinal = 0;
  calleeGotRequest = false;
  ackTimeout = false;
  private callerDone = false;
  private calleeDone = false;
  private ended = false;
  private inviteSt: ServerTransaction | undefined;
  /** ACK wire per (caller or callee) INVITE CSeq, re-sent on each 2xx retransmission. */
  private readonly acks = new Map<string, Buffer>();
  private calleeTalking = false;
  /** A re-INVITE still waiting for its final answer is cancelled when the dialog ends. */
  private reinviteCt: ClientTransaction | undefined;
  /** 2xx-ACKs received, by receiving side + CSeq. */
  private readonly ackedKeys = new Set<string>();

  constructor(
    private readonly world: PhoneWorld,
    readonly index: number,
    readonly callId: string,
    readonly plan: Plan,
    readonly caller: Phone,
    readonly callee: Phone,
    private readonly onFinished: (call: Call) => void,
  ) {
    this.startedAt = world.clock.now();
    caller.app = this;
    callee.app = this;
  }

  /** Begun and not ended (what the excuses ask). */
  get live(): boolean {
    return !this.finished;
  }

  /** The UAS of the INVITE with this CSeq got the ACK for its 2xx (the caller's CSeqs start at 1, the callee's at 101). */
  acked(cseq: number): boolean {
    return this.ackedKeys.has('caller' + cseq) || this.ackedKeys.has('callee' + cseq);
  }

  get now(): number {
    return this.world.clock.now();
  }

  // ---- caller ------------------------------------------------------------------

  start(): void {
    const p = this.plan;
    const tag = this.world.prng.token();
    if (p.kind === 'register') {
      const aor = this.caller.uri;
      const req = this.caller.newRequest('REGISTER', p.registrar ?? 'sip:reg.sim', aor, this.callId, tag, 1);
      req.append('Expires', String(p.expires ?? 60));
      this.caller.request(req, PROXY, this.finalOnly(() => (this.calleeDone = true)));
      return;
    }
    if (p.kind === 'options') {
      const req = this.caller.newRequest('OPTIONS', this.callee.uri, this.callee.uri, this.callId, tag, 1);
      this.caller.request(req, PROXY, this.finalOnly());
      return;
    }
    const req = this.caller.newRequest('INVITE', this.callee.uri, this.callee.uri, this.callId, tag, 1);
    this.caller.dialog = {
      callId: this.callId,
      localTag: tag,
      remoteTag: '',
      localUri: this.caller.uri,
      remoteUri: this.callee.uri,
      remoteTarget: this.callee.uri,
      routes: [],
      cseq: 1,
    };
    let cancelArmed = false;
    const handler: ClientHandler = {
      onResponse: (ct: ClientTransaction, res: SipMessage, _env: Envelope | undefined) => {
        const status = res.status;
        if (status < 200) {
          if (p.kind === 'cancel' && !cancelArmed) {
            cancelArmed = true;
            this.world.at(this.now + p.cancelAfter, () => {
              this.caller.note('CANCEL');
              ct.cancel();
            });
          }
          return;
        }
        if (status < 300) {
          this.caller2xx(res, 'caller', 1);
          return;
        }
        if (this.callerFinal === 0) {
          this.callerFinal = status;
          this.caller.note(`final ${status}`);
          this.callerDone = true;
          this.check();
        }
      },
    };
    const ct = this.caller.request(req, PROXY, handler);
    // A caller hears nothing final for far too long (the node that held its INVITE died): it hangs up.
    // CANCEL then gives up 64*T1 later with a local 408 (RFC 3261 9.1) if nothing answers that either.
    this.world.at(this.startedAt + p.answer + p.cancelAfter + 64 * this.world.t1, () => {
      if (this.callerFinal !== 0) return;
      this.caller.note('hang up');
      ct.cancel();
    });
  }

  /** A 2xx to an INVITE of `side` (initial: cseq 1): ACK it (again), and on the first one, go on talking. */
  private caller2xx(res: SipMessage, side: 'caller' | 'callee', cseq: number): void {
    const phone = side === 'caller' ? this.caller : this.callee;
    const key = side + cseq;
    const known = this.acks.get(key);
    if (known !== undefined) {
      phone.send(known, phone.dialogDestination());
      return;
    }
    if (side === 'caller' && cseq === 1) {
      const d = phone.dialog!;
      d.remoteTag = res.toTag ?? '';
      const contact = res.get('contact');
      if (contact !== undefined) d.remoteTarget = parseNameAddr(contact).uriText;
      d.routes = res.getAll('record-route').reverse();
      this.callerFinal = res.status;
      this.caller.note(`final ${res.status}`);
    } else {
      this.reinviteStatus = res.status;
    }
    const wire = phone.ack2xx(cseq, 'z9hG4bK-ack-' + this.world.prng.token());
    this.acks.set(key, wire);
    phone.send(wire, phone.dialogDestination());
    if (side === 'caller' && cseq === 1) this.talk('caller');
  }

  onLate2xx(phone: Phone, res: SipMessage): void {
    const side = phone === this.caller ? 'caller' : 'callee';
    const known = this.acks.get(side + res.cseq.seq);
    if (known !== undefined) phone.send(known, phone.dialogDestination());
  }

  /** The dialog is up on `side`: plan its re-INVITE and BYE. */
  private talk(side: 'caller' | 'callee'): void {
    const p = this.plan;
    if (p.reinviteBy === side) this.world.at(this.now + p.talk / 2, () => this.reinvite(side));
    if (p.byeBy === side) this.world.at(this.now + p.talk, () => this.bye(side));
  }

  private reinvite(side: 'caller' | 'callee'): void {
    if (this.ended) return;
    const phone = side === 'caller' ? this.caller : this.callee;
    const req = phone.dialogRequest('INVITE');
    const cseq = req.cseq.seq;
    this.reinviteCt = phone.request(req, phone.dialogDestination(), {
      onResponse: (_ct, res) => {
        if (res.status < 200) return;
        if (res.status < 300) this.caller2xx(res, side, cseq);
        else if (this.reinviteStatus === 0) this.reinviteStatus = res.status;
      },
    });
  }

  private bye(side: 'caller' | 'callee'): void {
    if (this.ended) return;
    this.end();
    this.byeFrom = side;
    const phone = side === 'caller' ? this.caller : this.callee;
    phone.request(phone.dialogRequest('BYE'), phone.dialogDestination(), {
      onResponse: (_ct, res) => {
        if (res.status < 200 || this.byeStatus !== 0) return;
        this.byeStatus = res.status;
        if (side === 'caller') this.callerDone = true;
        else this.calleeDone = true;
        this.check();
      },
    });
  }

  private end(): void {
    this.ended = true;
    // Nothing will answer a re-INVITE in a dialog that is over (or whose proxy died with it).
    if (this.reinviteStatus === 0) this.reinviteCt?.cancel();
  }

  /** A handler for a request whose final response ends the caller's part. */
  private finalOnly(also?: () => void): ClientHandler {
    return {
      onResponse: (_ct, res) => {
        if (res.status < 200 || this.callerFinal !== 0) return;
        this.callerFinal = res.status;
        this.caller.note(`final ${res.status}`);
        this.callerDone = true;
        also?.();
        this.check();
      },
    };
  }

  // ---- both sides: requests received ---------------------------------------------

  onRequest(phone: Phone, req: SipMessage, st: ServerTransaction): void {
    const m = req.method;
    if (m === 'OPTIONS') {
      phone.respond(st, 200);
      if (phone === this.callee) {
        this.calleeGotRequest = true;
        this.calleeFinal = 200;
        this.calleeDone = true;
        this.check();
      }
      return;
    }
    if (m === 'INVITE' && req.toTag === undefined) {
      if (phone !== this.callee || this.inviteSt !== undefined) {
        phone.respond(st, 482); // merged request (RFC 3261 8.2.2.2): the same INVITE under another branch
        return;
      }
      this.calleeInvite(req, st);
      return;
    }
    if (m === 'INVITE') {
      if (this.ended || phone.dialog === undefined) {
        phone.respond(st, 481);
        return;
      }
      const res = phone.respond(st, 200);
      this.resend2xx(phone, st, res, req.cseq.seq, false);
      return;
    }
    if (m === 'BYE') {
      if (phone.dialog === undefined) {
        phone.respond(st, 481);
        return;
      }
      phone.respond(st, 200);
      this.end();
      if (phone === this.caller) this.callerDone = true;
      else this.calleeDone = true;
      this.check();
      return;
    }
    phone.respond(st, 405);
  }

  private calleeInvite(req: SipMessage, st: ServerTransaction): void {
    const p = this.plan;
    this.inviteSt = st;
    this.calleeGotRequest = true;
    const contact = req.get('contact');
    this.callee.dialog = {
      callId: this.callId,
      localTag: this.world.prng.token(),
      remoteTag: req.fromTag ?? '',
      localUri: this.callee.uri,
      remoteUri: this.caller.uri,
      remoteTarget: contact !== undefined ? parseNameAddr(contact).uriText : this.caller.uri,
      routes: req.getAll('record-route'),
      cseq: 100,
    };
    this.world.at(this.now + p.ring, () => {
      if (st.state === 'proceeding') this.callee.respond(st, 180);
    });
    this.world.at(this.now + p.answer, () => {
      if (st.state !== 'proceeding') return;
      if (p.kind === 'busy') {
        this.callee.respond(st, 486);
        this.calleeFinal = 486;
        this.calleeDone = true;
        this.check();
        return;
      }
      const res = this.callee.respond(st, 200);
      this.calleeFinal = 200;
      this.resend2xx(this.callee, st, res, req.cseq.seq, true);
    });
  }

  /** RFC 3261 13.3.1.4: the 2xx goes again at T1, 2T1, ... T2 until its ACK; no ACK in 64*T1: BYE. */
  private resend2xx(phone: Phone, st: ServerTransaction, res: SipMessage, cseq: number, initial: boolean): void {
    const w = this.world;
    const key = (phone === this.caller ? 'caller' : 'callee') + cseq;
    const start = this.now;
    let interval = w.t1;
    const tick = (): void => {
      if (this.ackedKeys.has(key)) return;
      if (initial && this.ended) return;
      if (this.now - start >= 64 * w.t1) {
        if (initial) {
          this.ackTimeout = true;
          phone.note('no ACK: BYE');
          this.bye('callee');
        }
        return;
      }
      st.respond(res);
      interval = Math.min(2 * interval, w.t2);
      w.at(this.now + interval, tick);
    };
    w.at(this.now + interval, tick);
  }

  onAck(phone: Phone, ack: SipMessage): void {
    const side = phone === this.caller ? 'caller' : 'callee';
    const key = side + ack.cseq.seq;
    if (this.ackedKeys.has(key)) return;
    this.ackedKeys.add(key);
    // Only the ACK for the 2xx we sent starts the call: a stray ACK (a proxy that lost the
    // transaction relays the ACK for a 487 statelessly) does not.
    if (phone === this.callee && this.calleeFinal === 200 && ack.cseq.seq === this.inviteSt?.request.cseq.seq && !this.calleeTalking) {
      this.calleeTalking = true;
      this.talk('callee');
    }
  }

  onCancel(phone: Phone, invite: ServerTransaction): void {
    if (phone !== this.callee || invite.state !== 'proceeding') return;
    phone.respond(invite, 487);
    this.calleeFinal = 487;
    this.calleeDone = true;
    this.check();
  }

  // ---- completion --------------------------------------------------------------------

  /** A caller that never reached the callee leaves nothing for the callee to finish. */
  private check(): void {
    if (this.finished) return;
    const calleeDone = this.calleeDone || (!this.calleeGotRequest && this.callerDone && this.callerFinal >= 300);
    if (!this.callerDone || !calleeDone) return;
    this.finished = true;
    this.doneAt = this.now;
    this.onFinished(this);
  }

  /** Upper bound for the whole exchange: its planned times plus three transactions' worth of 64*T1. */
  deadline(extra: number): number {
    const p = this.plan;
    return this.startedAt + p.answer + p.cancelAfter + p.talk + 3 * 64 * this.world.t1 + extra;
  }

  /** Stop waiting (deadline passed): report what is missing. */
  giveUp(): string {
    this.finished = true;
    this.doneAt = this.now;
    return `callerDone=${this.callerDone} calleeDone=${this.calleeDone} callerFinal=${this.callerFinal} calleeFinal=${this.calleeFinal} bye=${this.byeStatus}`;
  }
}
