// First stop for every received message: parse, validate, and either hand it
// to the transaction layer or answer/drop it with a reason. Nothing thrown by
// bad input gets past this function.

import type { Logger } from '../core/log.js';
import { SipParseError } from '../core/errors.js';
import type { SipMessage } from '../sip/message.js';
import { parseVia } from '../sip/headers.js';
import { parseMessage } from '../sip/parser.js';
import type { Via } from '../sip/types.js';
import { buildLocalResponse, type ToTagKey } from '../sip/local-response.js';
import { tooLargeReason } from '../proxy/mtu.js';
import { validateRequest, validateResponse } from '../sip/validate.js';
import { responseDestination } from '../tm/response-route.js';
import type { Envelope, Sender } from '../transport/types.js';
import { stampTopVia } from './via-stamp.js';

export interface IngressCounters {
  requestIn(method: string): void;
  responseIn(code: number): void;
  responseOut(code: number): void;
  parseError(): void;
  drop(reason: string): void;
}

export interface IngressDeps {
  sender: Sender;
  counters: IngressCounters;
  log: Logger;
  /** Key of the To tags of our 400s (src/sip/local-response.ts). */
  toTags: ToTagKey;
  /** The next stage: the anycast gate, or the transaction layer directly on a single node. */
  next: (msg: SipMessage, env: Envelope) => void;
  /** transport.max_message_size, named in the 513 of a message over it. */
  maxMessageSize: number;
  /** src/auth: false drops the message before it is parsed (a banned source, or one just over its rate). */
  admit?: (source: string, isRequest: boolean, relayed: boolean) => boolean;
}

const RESPONSE_START = Buffer.from('SIP/2.0 ');

export class Ingress {
  constructor(private readonly d: IngressDeps) {}

  receive(data: Buffer, env: Envelope): void {
    if (this.d.admit) {
      const isRequest = data.compare(RESPONSE_START, 0, 8, 0, 8) !== 0;
      if (!this.d.admit(env.remote.address, isRequest, env.hops > 0)) {
        this.d.counters.drop('banned');
        return;
      }
    }
    if (env.oversize !== undefined) {
      this.rejectTooLarge(data, env, env.oversize);
      return;
    }
    let msg: SipMessage;
    try {
      msg = parseMessage(data, { stream: env.transport !== 'udp' });
    } catch (err) {
      this.d.counters.parseError();
      const partial = err instanceof SipParseError ? err.partial : undefined;
      if (partial?.isRequest) {
        this.rejectRequest(partial, env, (err as SipParseError).status, (err as SipParseError).message);
        return;
      }
      // Nothing to answer to: a broken response, or no request line and Via we could read.
      this.d.counters.drop(looksLikeResponse(data) ? 'bad_response' : 'unparseable');
      this.d.log.debug({ err, remote: env.remote }, 'unparseable message dropped');
      return;
    }
    try {
      const problem = msg.isRequest ? validateRequest(msg) : validateResponse(msg);
      if (problem) {
        this.d.counters.parseError();
        if (msg.isRequest) this.rejectRequest(msg, env, problem.status, problem.reason);
        else this.d.counters.drop('bad_response');
        return;
      }
      if (msg.isRequest) {
        this.d.counters.requestIn(msg.method);
        if (env.hops === 0) stampTopVia(msg, env);
      } else {
        this.d.counters.responseIn(msg.status);
      }
      this.d.next(msg, env);
    } catch (err) {
      // Lazily parsed headers can fail deep in the stack: answer if we can, never crash.
      if (err instanceof SipParseError && msg.isRequest) {
        this.d.counters.parseError();
        this.rejectRequest(msg, env, err.status, err.message);
        return;
      }
      this.d.counters.drop('internal_error');
      this.d.log.error({ err }, 'message processing failed');
    }
  }

  /**
   * A message over transport.max_message_size (Envelope.oversize): a request gets 513, anything
   * else is dropped; all count as `too_large`. On TCP `data` is the header section alone (its
   * Content-Length promises more), so the parse ends in "Truncated body" with the request attached.
   */
  private rejectTooLarge(data: Buffer, env: Envelope, size: number): void {
    this.d.counters.drop('too_large');
    let req: SipMessage | undefined;
    try {
      req = parseMessage(data);
    } catch (err) {
      if (err instanceof SipParseError) req = err.partial as SipMessage | undefined;
    }
    if (req === undefined || !req.isRequest || req.method === 'ACK') return;
    try {
      const res = buildLocalResponse(req, 513, this.d.toTags, { reason: tooLargeReason(size, this.d.maxMessageSize) });
      this.d.sender.send(res.serialize(), responseDestination(req.topVia, env));
      this.d.counters.responseOut(513);
    } catch (err) {
      this.d.counters.drop('unanswerable');
      this.d.log.debug({ err, remote: env.remote }, 'over-size request could not be answered');
    }
  }

  /** Stateless error answer (RFC 3261 16.3 / RFC 4475 3.3). ACKs are never answered. */
  private rejectRequest(req: SipMessage, env: Envelope, status: number, reason: string): void {
    if (req.method === 'ACK') {
      this.d.counters.drop('bad_ack');
      return;
    }
    try {
      const res = buildLocalResponse(req, status, this.d.toTags, { reason });
      // Only the top Via addresses the answer: a broken one further down is the reason, not an obstacle.
      this.d.sender.send(res.serialize(), responseDestination(topViaOnly(req), env));
      this.d.counters.responseOut(status);
    } catch (err) {
      // Not even a usable Via / From / To to answer to.
      this.d.counters.drop('unanswerable');
      this.d.log.debug({ err, remote: env.remote }, 'bad request could not be answered');
    }
  }
}

function topViaOnly(req: SipMessage): Via {
  const first = req.getAll('via')[0];
  if (first === undefined) throw new SipParseError('Missing Via header');
  return parseVia(first);
}

/** A status line ("SIP/2.0 ..." after any leading CRLFs): never answered. */
function looksLikeResponse(data: Buffer): boolean {
  let i = 0;
  while (i < data.length && (data[i] === 0x0d || data[i] === 0x0a)) i++;
  return data.toString('latin1', i, i + 4).toUpperCase() === 'SIP/';
}
