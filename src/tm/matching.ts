// Transaction keys (RFC 3261 17.1.3 and 17.2.3). Keys are plain strings so matching is one Map lookup.

import type { SipMessage } from '../sip/message.js';
import type { Via } from '../sip/types.js';
import { hasMagicCookie } from './branch.js';

const SEP = '\x01';

/** sent-by with the default port filled in, host case-folded. */
export function sentBy(via: Via): string {
  const port = via.port ?? (via.transport === 'TLS' || via.transport === 'WSS' ? 5061 : 5060);
  return via.host.toLowerCase() + ':' + port;
}

/** Client side (17.1.3): top Via branch + CSeq method. Our branches always carry the cookie. */
export function clientKey(branch: string, method: string): string {
  return branch + SEP + method;
}

/**
 * Server side (17.2.3). `method` is the method of the transaction looked for: 'INVITE' for an ACK or for the
 * INVITE a CANCEL cancels. With the magic cookie: branch + sent-by + method. Without (RFC 2543): R-URI,
 * From tag, Call-ID, CSeq number, method and top Via; the To tag is checked after the lookup (it differs
 * between an INVITE and the ACK for its final response).
 */
export function serverKey(req: SipMessage, method: string): string {
  const via = req.topVia;
  const branch = via.branch;
  if (hasMagicCookie(branch)) return branch + SEP + sentBy(via) + SEP + method;
  return (
    '2543' + SEP + req.uri + SEP + (req.fromTag ?? '') + SEP + req.callId + SEP + req.cseq.seq + SEP + method + SEP +
    via.transport + ' ' + sentBy(via) + ';' + (branch ?? '')
  );
}

/** True when the key was built by the RFC 2543 rule (the To tag must then be compared too). */
export function isRfc2543Key(key: string): boolean {
  return key.startsWith('2543' + SEP);
}
