// Loop-detection hash for the branch's optional loop segment (RFC 3261 16.6 step 8, 16.3 item 4).
// The proxy computes it on the request as received (before Request-URI translation), passes it to
// TransactionLayer.request(..., { loop }) and, when a request comes back carrying a Via with our sent-by,
// compares the decoded `loop` of that Via's branch with a fresh hash: equal = loop (482), different = spiral.

import { createHash } from 'node:crypto';
import type { SipMessage } from '../sip/message.js';

/** 8 base64url chars (48 bits of SHA-256) over R-URI, To tag, From tag, Call-ID, CSeq number, Proxy-Require, Proxy-Authorization. */
export function computeLoopHash(req: SipMessage): string {
  const h = createHash('sha256');
  h.update(req.uri, 'latin1');
  h.update('\0' + (req.toTag ?? '') + '\0' + (req.fromTag ?? '') + '\0' + req.callId + '\0' + req.cseq.seq, 'latin1');
  for (const v of req.getAll('proxy-require')) h.update('\0' + v, 'latin1');
  for (const v of req.getAll('proxy-authorization')) h.update('\0' + v, 'latin1');
  return h.digest().subarray(0, 6).toString('base64url');
}
