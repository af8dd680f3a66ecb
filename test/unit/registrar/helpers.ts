// What the registrar tests share: a registrar over a fresh location table, and REGISTERs built by hand.

import { Registrar, type RegistrarSettings } from '../../../src/registrar/registrar.js';
import { LocationService } from '../../../src/location/location.js';
import { ToTagKey } from '../../../src/sip/local-response.js';
import { SipMessage } from '../../../src/sip/message.js';
import type { Envelope } from '../../../src/transport/types.js';

export const settings = { default_expires: 3600, min_expires: 60, max_expires: 7200, max_contacts: 3 };
export const env: Envelope = {
  transport: 'udp',
  remote: { address: '192.0.2.10', port: 5062 },
  local: { address: '127.0.0.1', port: 5060 },
  socketId: 'udp',
  receivedAt: 0,
  hops: 0,
};

/** A registrar over a fresh location table; the tests pass `now` themselves, the table's clock only versions writes. */
export function newRegistrar(extra: Partial<RegistrarSettings> = {}): Registrar {
  return new Registrar({ ...settings, ...extra }, new LocationService({ max_expires: settings.max_expires, max_clock_skew: 2 }, 1, { now: () => 0 }), new ToTagKey('registrar-test-secret'));
}

let cseq = 1;
export function register(contacts: string[], opts: { expires?: string; callId?: string; cseq?: number; extra?: [string, string][]; via?: string } = {}) {
  const m = SipMessage.request('REGISTER', 'sip:example.com');
  m.append('Via', `SIP/2.0/UDP ${opts.via ?? '192.0.2.10:5062'};branch=z9hG4bKreg${cseq}`);
  m.append('From', '<sip:alice@example.com>;tag=1');
  m.append('To', '<sip:alice@example.com>');
  m.append('Call-ID', opts.callId ?? 'reg-call-1');
  m.append('CSeq', `${opts.cseq ?? cseq++} REGISTER`);
  for (const c of contacts) m.append('Contact', c);
  if (opts.expires !== undefined) m.append('Expires', opts.expires);
  for (const [k, v] of opts.extra ?? []) m.append(k, v);
  m.append('Content-Length', '0');
  return m;
}
