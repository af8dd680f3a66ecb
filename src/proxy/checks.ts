// The cheap checks of RFC 3261 16.3 that answer a request at once, before any
// routing (Kamailio's sanity + maxfwd): Max-Forwards, loop detection, Proxy-Require.

import { parseMaxForwards } from '../sip/headers.js';
import type { SipMessage } from '../sip/message.js';

export interface CheckDeps {
  /** This node's id: loop detection only trusts branches this node made. */
  nodeId: number;
  decodeBranch(branch: string | undefined): { nodeId: number; valid: boolean; loop?: string } | null;
  proxyRequireSupported: readonly string[];
}

/** What the checks decided: answer OPTIONS ourselves, or reject with a status. */
export type CheckOutcome =
  | { kind: 'answer_options' }
  | { kind: 'reject'; status: number; reason: string; headers?: Array<[string, string]> };

/** null when the request may be routed; otherwise how to answer it. */
export function requestChecks(req: SipMessage, loopHash: string, d: CheckDeps): CheckOutcome | null {
  // 16.3 step 3: Max-Forwards. OPTIONS with 0 is answered by us (RFC 3261 11 / 16.3).
  const mf = req.get('max-forwards');
  if (mf !== undefined && parseMaxForwards(mf) === 0) {
    if (req.method === 'OPTIONS') return { kind: 'answer_options' };
    return { kind: 'reject', status: 483, reason: 'Too Many Hops' };
  }
  // 16.3 step 4: a Via of ours whose loop hash matches this very request means it came back unchanged: a loop.
  // The same request with another Request-URI (a spiral) has another hash and goes on.
  for (const via of req.vias) {
    const mine = d.decodeBranch(via.branch);
    if (mine?.valid && mine.loop === loopHash && mine.nodeId === d.nodeId) {
      return { kind: 'reject', status: 482, reason: 'Loop Detected' };
    }
  }
  // 16.3 step 5: Proxy-Require.
  const unsupported = req.getAll('proxy-require').filter((tag) => !d.proxyRequireSupported.includes(tag.toLowerCase()));
  if (unsupported.length) {
    return { kind: 'reject', status: 420, reason: 'Bad Extension', headers: [['Unsupported', unsupported.join(', ')]] };
  }
  return null;
}
