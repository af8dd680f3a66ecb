// The gate's bus side: a message sent on to its owner (one hop, never more), a
// forwarded one taken in through ingress again, and writes on connections that
// another node asked for (RELAY) or could not make (RELAY_FAILED).

import type { Bus, Membership } from '../cluster/types.js';
import type { Logger } from '../core/log.js';
import type { SipMessage } from '../sip/message.js';
import type { Envelope, Sender } from '../transport/types.js';
import type { AnycastCounters } from './metrics.js';
import type { RelaySender } from './relay-sender.js';
import type { GateEvents } from './types.js';
import { decodeForward, decodeRelay, decodeRelayFailed, encodeForward, encodeRelayFailed, FLAG_SECOND_CHANCE, MSG_FORWARD, MSG_RELAY_FAILED } from './wire.js';

export interface ForwarderDeps {
  bus: Bus;
  membership: Membership;
  counters: AnycastCounters;
  log: Logger;
  /** The node's own transport: RELAY writes go straight to it. */
  transport: Sender;
  relay: RelaySender;
  events?: GateEvents;
}

export class Forwarder {
  /** Ingress, once the node has built it (a forwarded message before that is dropped as `starting`). */
  reinject: ((data: Buffer, env: Envelope) => void) | undefined;

  constructor(
    private readonly d: ForwarderDeps,
    private readonly debug: boolean,
  ) {}

  /** Send `msg` to its owner `dst`, one hop, never more. */
  forward(dst: number, msg: SipMessage, env: Envelope, secondChance: boolean): void {
    if (env.hops > 0) {
      this.d.counters.drop('hop_limit'); // unreachable by construction; kept as the last guard
      return;
    }
    const state = this.d.membership.state(dst);
    if (state === undefined || state === 'down') {
      this.d.counters.drop('owner_down');
      if (this.debug) this.d.log.debug({ dst, state }, 'anycast: owner down, message dropped');
      return;
    }
    const payload = encodeForward(env, msg.serialize(), secondChance ? FLAG_SECOND_CHANCE : 0);
    if (!this.d.bus.send(dst, 'anycast', MSG_FORWARD, payload)) {
      this.d.counters.drop('owner_unreachable');
      if (this.debug) this.d.log.debug({ dst }, 'anycast: bus refused, message dropped');
      return;
    }
    this.d.counters.sent('forward');
    if (secondChance) this.d.counters.secondChance();
    this.d.events?.onForward?.(dst, msg, env, secondChance);
  }

  /** A message a peer forwarded: through ingress again, as if read from our own socket. */
  onForward(src: number, payload: Uint8Array): void {
    const f = decodeForward(payload);
    if (f === null || this.reinject === undefined) {
      this.d.counters.drop(f === null ? 'bad_bus_payload' : 'starting');
      return;
    }
    if (f.env.hops !== 0) {
      this.d.counters.drop('hop_limit');
      return;
    }
    const env = f.env;
    env.hops = 1;
    if (env.transport !== 'udp' && env.connectionId !== undefined) env.connectionId = this.d.relay.localId(src, env.connectionId);
    // Through ingress again: parsed and validated here as if read from our own socket.
    this.reinject(f.data, env);
  }

  /** A peer asks us to write on a connection we hold. */
  onRelay(src: number, payload: Uint8Array): void {
    const r = decodeRelay(payload);
    if (r === null) {
      this.d.counters.drop('bad_bus_payload');
      return;
    }
    const cid = r.dest.connectionId ?? 0;
    this.d.transport.send(r.data, r.dest, () => {
      this.d.counters.drop('relay_failed');
      // Tell the sender, so its transaction fails now (a 480 or 430 to the caller) rather than at timer B.
      this.d.bus.send(src, 'anycast', MSG_RELAY_FAILED, encodeRelayFailed(cid));
    });
  }

  /** A relay we asked for could not be written: the transaction waiting on it fails now. */
  onRelayFailed(src: number, payload: Uint8Array): void {
    const cid = decodeRelayFailed(payload);
    if (cid === null) return this.d.counters.drop('bad_bus_payload');
    this.d.relay.failed(src, cid);
  }
}
