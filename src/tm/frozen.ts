// A lingering transaction's request, kept as text. After its final response a transaction lives on
// for up to 64*T1 (RFC 6026 Accepted, Completed) only to absorb retransmissions, matched by key:
// nobody reads its request any more, except in rare cases (RFC 2543 To-tag matching, an error
// answer built late). Holding the parsed message meant a few dozen objects per transaction (header
// fields, their string slices, views, the body buffer) carried through every garbage collection for
// 32 s; one flat string per request is a fraction of that, and re-parsed on the rare read.

import type { SipMessage } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';

/**
 * A request that can be frozen into its wire text and thawed back. `message` is the live one;
 * after freeze() it is parsed again from the text on first read (and kept from then on).
 */
export class FrozenRequest {
  private live: SipMessage | undefined;
  private text: string | undefined = undefined;

  constructor(message: SipMessage) {
    this.live = message;
  }

  get message(): SipMessage {
    // Our own serialization of a message that passed validation: it parses again.
    return (this.live ??= parseMessage(Buffer.from(this.text!, 'latin1'), { stream: false }));
  }

  /** Keep the text only. `wire`: the request's serialization when the caller still has it. */
  freeze(wire?: Buffer): void {
    if (this.live === undefined) return;
    // A fresh flat string: no slice of the datagram's text, no rope of header strings kept alive.
    this.text = (wire ?? this.live.serialize()).toString('latin1');
    this.live = undefined;
  }
}
