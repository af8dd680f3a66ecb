// Assembly of the anycast layer for one node: the gate, the sender that
// reaches other nodes' connections, and the metrics. The node puts `sender`
// under tm and proxy, calls `gate.attach(tm, reinject)` once tm exists, and
// makes `gate.receive` the next stage after ingress.

import type { Registry } from 'prom-client';
import type { Bus, Membership } from '../cluster/types.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { TimerWheel } from '../tm/timer-wheel.js';
import type { SipMessage } from '../sip/message.js';
import type { Sender } from '../transport/types.js';
import { AnycastGate } from './gate.js';
import { AnycastMetrics } from './metrics.js';
import { RelaySender } from './relay-sender.js';
import type { AnycastSettings, GateEvents } from './types.js';

export interface AnycastOptions {
  settings: AnycastSettings;
  bus: Bus;
  membership: Membership;
  /** The node's transport. */
  transport: Sender;
  clock: Clock;
  wheel: TimerWheel;
  log: Logger;
  /** The node's metrics registry (omit: not exported). */
  registry?: Registry;
  /** The node's drop counter (sip_drops_total{reason}). */
  drop: (reason: string) => void;
  events?: GateEvents;
  /** receiver mode: the node a new request belongs to, when another layer knows (a digest retry: its nonce's issuer). */
  ownerHint?: (req: SipMessage) => number | undefined;
}

export interface Anycast {
  gate: AnycastGate;
  /** Give this to tm and proxy instead of the transport. */
  sender: RelaySender;
  metrics: AnycastMetrics;
}

export function createAnycast(o: AnycastOptions): Anycast {
  const metrics = new AnycastMetrics(o.registry, o.drop);
  const sender = new RelaySender(o.transport, o.bus, metrics);
  const gate = new AnycastGate({
    settings: o.settings,
    bus: o.bus,
    membership: o.membership,
    clock: o.clock,
    wheel: o.wheel,
    counters: metrics,
    log: o.log,
    transport: o.transport,
    relay: sender,
    events: o.events,
    ...(o.ownerHint ? { ownerHint: o.ownerHint } : {}),
  });
  return { gate, sender, metrics };
}
