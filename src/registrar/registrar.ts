// REGISTER processing per RFC 3261 10.3, with Path (RFC 3327).
// Authentication is not done here yet (see README).

import { SipParseError } from '../core/errors.js';
import { parseNameAddr } from '../sip/headers.js';
import type { SipMessage } from '../sip/message.js';
import { buildLocalResponse, type ToTagKey } from '../sip/local-response.js';
import { parseUri, uriKey } from '../sip/uri.js';
import type { NameAddr } from '../sip/types.js';
import type { Envelope } from '../transport/types.js';
import { supportsOutbound, type Binding } from '../location/binding.js';
import type { LocationService } from '../location/location.js';
import { aorOf } from '../location/aor.js';
import { registeredFromBehindNat } from '../location/nat.js';

export interface RegistrarSettings {
  default_expires: number;
  min_expires: number;
  max_expires: number;
  max_contacts: number;
  /** RFC 5626 Flow-Timer in the 2xx to an outbound REGISTER; 0 or absent: none. */
  flow_timer?: number;
}

/** Outcome of a REGISTER, for metrics and logs. */
export type RegisterOutcome = 'registered' | 'unregistered' | 'queried' | 'rejected';

export class Registrar {
  constructor(
    private readonly settings: RegistrarSettings,
    /** The cluster-wide binding table: written here, replicated by src/replica. */
    readonly location: LocationService,
    /** Key of the To tags of our responses (src/sip/local-response.ts). */
    private readonly toTags: ToTagKey,
  ) {}

  /** Build the response to a REGISTER whose Request-URI is a domain we serve. */
  handle(req: SipMessage, env: Envelope, now: number): { response: SipMessage; outcome: RegisterOutcome } {
    try {
      return this.process(req, env, now);
    } catch (err) {
      if (err instanceof SipParseError) {
        return { response: buildLocalResponse(req, 400, this.toTags, { reason: err.message }), outcome: 'rejected' };
      }
      throw err;
    }
  }

  lookup(aor: string, now: number): Binding[] {
    return this.location.lookup(aor, now);
  }

  private process(req: SipMessage, env: Envelope, now: number) {
    const aor = aorOf(req.to.uri);
    const callId = req.callId;
    const cseq = req.cseq.seq;
    const contacts = req.getAll('contact').map(parseNameAddr);
    const expiresHeader = req.get('expires');
    const headerExpires = expiresHeader === undefined ? undefined : parseDelta(expiresHeader, 'Expires');

    const reject = (status: number, reason: string, headers?: Array<[string, string]>) => ({
      response: buildLocalResponse(req, status, this.toTags, { reason, headers }),
      outcome: 'rejected' as const,
    });

    if (contacts.length === 0) return { response: this.ok(req, aor, now, false), outcome: 'queried' as const };

    // Wildcard: "Contact: *" with "Expires: 0" removes every binding of the AOR (10.3 step 6).
    if (contacts.some((c) => c.star)) {
      if (contacts.length !== 1 || headerExpires !== 0) {
        return reject(400, 'Wildcard Contact requires Expires 0 and no other Contact');
      }
      const current = this.location.lookup(aor, now);
      if (current.some((b) => b.callId === callId && b.cseq >= cseq)) return reject(500, 'Out of order REGISTER');
      for (const b of current) this.location.remove(b);
      return { response: this.ok(req, aor, now, false), outcome: 'unregistered' as const };
    }

    // Work on a copy; nothing is written unless the whole REGISTER is accepted.
    const bindings = this.location.lookup(aor, now).map((b) => ({ b, key: uriKey(parseUri(b.contact)) }));
    const path = req.getAll('path');
    const outbound = supportsOutbound(req);
    // RFC 5626 6: an outbound REGISTER through an edge proxy that did not mark its Path with `ob`.
    const firstHop = path.length ? parseNameAddr(path[path.length - 1]!) : undefined;
    const wantsFlow = outbound && contacts.some((c) => c.params.get('+sip.instance') && c.params.get('reg-id'));
    if (wantsFlow && firstHop && !firstHop.uri.params.has('ob')) return reject(439, 'First Hop Lacks Outbound Support');
    const source = this.location.sourceOf(env);
    const puts: Binding[] = [];
    const removes: Binding[] = [];
    let added = false;
    for (const c of contacts) {
      const expires = this.expiresFor(c, headerExpires);
      if (expires > 0 && expires < this.settings.min_expires) {
        return reject(423, 'Interval Too Brief', [['Min-Expires', String(this.settings.min_expires)]]);
      }
      const key = uriKey(c.uri);
      const instance = c.params.get('+sip.instance') ?? undefined;
      // reg-id means nothing without an instance (RFC 5626 6).
      const regIdText = instance ? c.params.get('reg-id') : undefined;
      const regId = regIdText && /^\d{1,9}$/.test(regIdText) ? Number(regIdText) : undefined;
      // RFC 5626 6: a flow is the binding of its instance and reg-id, whatever its Contact now says
      // (a phone that came back through another NAT binding or connection replaces its old flow).
      if (regId !== undefined) {
        const moved = bindings.findIndex((x) => x.key !== key && x.b.instance === instance && x.b.regId === regId);
        if (moved >= 0) {
          const old = bindings[moved]!.b;
          if (old.callId === callId && old.cseq >= cseq) return reject(500, 'Out of order REGISTER');
          bindings.splice(moved, 1);
          removes.push(old);
        }
      }
      const at = bindings.findIndex((x) => x.key === key);
      if (at >= 0) {
        const old = bindings[at]!.b;
        if (old.callId === callId && old.cseq >= cseq) return reject(500, 'Out of order REGISTER');
        if (expires === 0) {
          bindings.splice(at, 1);
          removes.push(old);
          continue;
        }
      } else if (expires === 0) {
        continue;
      }
      const qText = c.params.get('q') ?? '';
      const binding: Binding = {
        aor,
        contact: c.uriText,
        q: qText === '' ? 1 : parseQ(qText),
        qText,
        expiresAt: now + Math.min(expires, this.settings.max_expires) * 1000,
        callId,
        cseq,
        path,
        source: registeredFromBehindNat(req.topVia, c.uri, env, path.length > 0) ? { ...source, nat: true } : source,
        ...(req.get('user-agent') !== undefined ? { userAgent: req.get('user-agent') } : {}),
        ...(instance ? { instance } : {}),
        ...(regId !== undefined ? { regId } : {}),
      };
      puts.push(binding);
      if (at >= 0) bindings[at] = { b: binding, key };
      else {
        bindings.push({ b: binding, key });
        added = true;
      }
    }
    if (bindings.length > this.settings.max_contacts) return reject(503, 'Too Many Registered Contacts');
    for (const b of removes) this.location.remove(b);
    for (const b of puts) this.location.put(b);
    const outcome = added || removes.length === 0 ? 'registered' : 'unregistered';
    return { response: this.ok(req, aor, now, wantsFlow), outcome: outcome as RegisterOutcome };
  }

  private expiresFor(c: NameAddr, headerExpires: number | undefined): number {
    const p = c.params.get('expires');
    if (p !== undefined && p !== null) return parseDelta(p, 'Contact expires');
    return headerExpires ?? this.settings.default_expires;
  }

  /** 200 OK listing every current binding with its remaining time (10.3 step 8); `outbound`: RFC 5626 6's Require and Flow-Timer. */
  private ok(req: SipMessage, aor: string, now: number, outbound: boolean): SipMessage {
    const headers: Array<[string, string]> = [];
    for (const b of this.location.lookup(aor, now)) {
      const left = Math.max(0, Math.round((b.expiresAt - now) / 1000));
      headers.push(['Contact', `<${b.contact}>;expires=${left}${b.qText ? `;q=${b.qText}` : ''}`]);
    }
    // RFC 3327: echo Path only to a UA that said it supports it.
    const supported = req.getAll('supported').map((s) => s.toLowerCase());
    if (supported.includes('path')) for (const p of req.getAll('path')) headers.push(['Path', p]);
    if (outbound) {
      headers.push(['Require', 'outbound']);
      if (this.settings.flow_timer) headers.push(['Flow-Timer', String(this.settings.flow_timer)]);
    }
    headers.push(['Date', new Date().toUTCString()]);
    return buildLocalResponse(req, 200, this.toTags, { headers });
  }
}

function parseDelta(text: string, what: string): number {
  if (!/^\d{1,10}$/.test(text.trim())) throw new SipParseError(`Bad ${what} value`);
  return Math.min(Number(text.trim()), 2 ** 32 - 1);
}

function parseQ(text: string): number {
  // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
  if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text)) throw new SipParseError('Bad q value');
  return Number(text);
}
