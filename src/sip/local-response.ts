// Responses this node generates itself (RFC 3261 8.2.6.2): every one goes
// through buildLocalResponse, which gives the To a tag when the request's To
// has none. The tag is a keyed hash of what identifies the request, so a
// retransmission gets the same tag, and so does the node of a cluster that
// answers it instead of us (the key comes from node.branch_secret, the same
// on every node). A CANCEL hashes like its INVITE, so the 200 to a CANCEL and
// a locally generated 487 carry the same tag, as 9.2 asks.

import { createHmac } from 'node:crypto';
import type { SipMessage } from './message.js';
import { buildResponse, type ResponseOptions } from './response.js';

const KEY_LABEL = 'anysip local To tag v1';

/** The key of locally generated To tags, derived once from the node's branch secret. */
export class ToTagKey {
  private readonly key: Buffer;

  constructor(branchSecret: string | Buffer) {
    // Domain-separated from the branch MAC key made from the same secret (src/tm/branch.ts).
    this.key = createHmac('sha256', branchSecret).update(KEY_LABEL).digest();
  }

  /** 16 hex digits over (Call-ID, From tag, CSeq number, top Via branch). Never throws. */
  tagFor(req: SipMessage): string {
    const h = createHmac('sha256', this.key);
    for (const part of identity(req)) h.update(part).update('\x00');
    return h.digest('hex').slice(0, 16);
  }
}

/** A response of our own to `req`: as buildResponse, plus the To tag of 8.2.6.2 unless `opts.toTag` names one. */
export function buildLocalResponse(req: SipMessage, status: number, tags: ToTagKey, opts: ResponseOptions = {}): SipMessage {
  return buildResponse(req, status, { ...opts, toTag: opts.toTag ?? tags.tagFor(req) });
}

/**
 * The request's identifying fields, parsed where they parse and as raw text
 * where they do not: a malformed request (answered 400) still gets a stable tag.
 */
function identity(req: SipMessage): string[] {
  return [
    safely(() => req.callId, () => req.get('call-id')),
    safely(() => req.fromTag ?? '', () => req.get('from')),
    safely(() => String(req.cseq.seq), () => req.get('cseq')),
    safely(() => req.topVia.branch ?? '', () => req.get('via')),
  ];
}

function safely(parsed: () => string, raw: () => string | undefined): string {
  try {
    return parsed();
  } catch {
    try {
      return raw() ?? '';
    } catch {
      return '';
    }
  }
}
