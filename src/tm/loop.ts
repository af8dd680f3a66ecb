// Loop-detection hash for the branch's optional loop segment (RFC 3261 16.6 step 8, 16.3 item 4).
// The proxy computes it on the request as received (before Request-URI translation), passes it to
// TransactionLayer.request(..., { loop }) and, when a request comes back carrying a Via with our sent-by,
// compares the decoded `loop` of that Via's branch with a fresh hash: equal = loop (482), different = spiral.

import type { SipMessage } from '../sip/message.js';
import { sipHash, sipKey } from './siphash.js';

// A fixed key: the hash only has to tell a request that came back unchanged from one that did not
// (it is compared with a value we put in our own MAC-protected branch), not to be secret.
const LOOP_KEY = sipKey(Buffer.from('anysip loop hash'));
const H = Buffer.alloc(8);

/** 8 base64url chars (48 bits of SipHash-2-4) over R-URI, To tag, From tag, Call-ID, CSeq number, Proxy-Require, Proxy-Authorization. */
export function computeLoopHash(req: SipMessage): string {
  const parts: string[] = [req.uri, '\0', req.toTag ?? '', '\0', req.fromTag ?? '', '\0', req.callId, '\0', String(req.cseq.seq)];
  let extra = false;
  for (const f of req.headers) {
    if (f.key === 'proxy-require' || f.key === 'proxy-authorization') {
      extra = true;
      break;
    }
  }
  if (extra) {
    for (const v of req.getAll('proxy-require')) parts.push('\0', v);
    for (const v of req.getAll('proxy-authorization')) parts.push('\0', v);
  }
  sipHash(LOOP_KEY, parts, H);
  return H.toString('base64url', 0, 6);
}
