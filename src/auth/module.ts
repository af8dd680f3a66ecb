// Authentication and access as a node composes them: the subscriber file, the
// nonces, the authenticator and the access policy, built from `auth:` of the
// config, with what /status and /metrics show of them. src/node/node.ts
// builds one and hands the proxy its `decide`.

import { randomBytes } from 'node:crypto';
import type { AuthConfig } from '../config/types.js';
import type { SipMessage } from '../sip/message.js';
import { Authenticator } from './authenticator.js';
import { SubscriberFile } from './credentials.js';
import { NonceCodec } from './nonce.js';
import { AccessPolicy, type RequestFacts, type Verdict } from './policy.js';

export class AuthModule {
  readonly subscribers: SubscriberFile | undefined;
  readonly authenticator: Authenticator | undefined;
  readonly policy: AccessPolicy;

  constructor(
    private readonly config: AuthConfig,
    secret: string | Buffer,
    nodeId: number,
    now: () => number,
  ) {
    this.subscribers = config.subscribers ? new SubscriberFile(config.subscribers) : undefined;
    const nonces = new NonceCodec(secret, nodeId, randomBytes(4).readUInt32BE(0), now);
    this.authenticator = this.subscribers
      ? new Authenticator({ algorithms: config.algorithms, nonce_expires: config.nonce_expires, max_nonces: config.max_nonces }, this.subscribers, nonces, now)
      : undefined;
    this.policy = new AccessPolicy({ ...config, relay_open: config.open_relay }, this.authenticator);
  }

  /**
   * Nothing to enforce: no subscribers and no trusted peers. A loopback node (the embedded
   * default) or one that said `open_relay: true` (config refuses any other) serves anyone.
   */
  static needed(config: AuthConfig): boolean {
    return config.subscribers !== undefined || config.trusted.length > 0;
  }

  decide(req: SipMessage, source: string, facts: RequestFacts): Verdict {
    return this.policy.decide(req, source, facts);
  }

  /** Read the subscriber file again; throws ConfigError and keeps the old table when it is bad. */
  reload(): number {
    return this.subscribers?.reload() ?? 0;
  }

  /** anysip_auth_* of /metrics, all counters but `subscribers` and `nonces`. */
  figures(): Record<string, number> {
    return {
      ...(this.authenticator?.counters ?? {}),
      ...this.policy.counters,
      subscribers: this.subscribers?.size ?? 0,
      nonces: this.authenticator?.noncesHeld ?? 0,
    };
  }

  static readonly GAUGES = ['subscribers', 'nonces'];

  /** `auth` of /status. */
  status(): Record<string, unknown> {
    return { ...this.figures(), realm: this.config.realm ?? '(the request\'s domain)', algorithms: this.config.algorithms, open_relay: this.config.open_relay };
  }
}
