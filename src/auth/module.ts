// Authentication and access as a node composes them: the subscriber file, the
// nonces, the authenticator and the access policy, built from `auth:` of the
// config, with what /status and /metrics show of them. src/node/node.ts
// builds one and hands the proxy its `decide`.

import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { Membership } from '../cluster/types.js';
import type { AuthConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Replicator } from '../replica/replicator.js';
import { type ReplicaWiring, startReplicator } from '../replica/wiring.js';
import type { SipMessage } from '../sip/message.js';
import { AbuseGuard, type AbuseRecord } from './abuse.js';
import { Authenticator } from './authenticator.js';
import { parseDigestParams } from './digest.js';
import { SubscriberFile } from './credentials.js';
import { NonceCodec } from './nonce.js';
import { AccessPolicy, type RequestFacts, type Verdict } from './policy.js';

export class AuthModule {
  readonly subscribers: SubscriberFile | undefined;
  readonly authenticator: Authenticator | undefined;
  readonly policy: AccessPolicy;
  readonly guard: AbuseGuard;
  replica: Replicator<AbuseRecord> | undefined;
  private membership: Membership | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly nonces: NonceCodec;

  constructor(
    private readonly config: AuthConfig,
    secret: string | Buffer,
    nodeId: number,
    private readonly clock: Clock,
    log: Logger,
  ) {
    const now = () => clock.now();
    this.guard = new AbuseGuard(
      { rate: { limit: config.rate_limit.requests, window: config.rate_limit.window, ban: config.rate_limit.ban }, failures: config.failures },
      nodeId,
      clock,
      () => this.membership?.upNodes() ?? [nodeId],
      log,
    );
    this.subscribers = config.subscribers ? new SubscriberFile(config.subscribers) : undefined;
    const nonces = new NonceCodec(secret, nodeId, randomBytes(4).readUInt32BE(0), now);
    this.nonces = nonces;
    const digest = { algorithms: config.algorithms, nonce_expires: config.nonce_expires, max_nonces: config.max_nonces };
    this.authenticator = this.subscribers ? new Authenticator(digest, this.subscribers, nonces, now, (user) => this.guard.isLocked(user)) : undefined;
    this.policy = new AccessPolicy({ ...config, relay_open: config.open_relay }, this.authenticator, (source, user) => this.guard.authFailed(source, user));
  }

  /**
   * The node that issued the nonce of the request's credentials (authentic, of any boot), for the
   * anycast gate in `receiver` mode: only that node accepts it. Undefined without credentials of ours.
   */
  issuerOf(req: SipMessage): number | undefined {
    for (const name of ['authorization', 'proxy-authorization']) {
      for (const value of req.getAll(name)) {
        const parsed = parseDigestParams(value);
        const nonce = 'params' in parsed ? parsed.params.get('nonce') : undefined;
        if (nonce === undefined) continue;
        const r = this.nonces.check(nonce);
        if (r.info) return r.info.issuer;
      }
    }
    return undefined;
  }

  /** Replicate counts and bans over the bus. Must run before membership starts (the join gate). */
  replicate(w: ReplicaWiring): void {
    this.membership = w.membership;
    this.replica = startReplicator(this.guard.table, w, this.clock);
  }

  /** The sweep of expired counts and bans. `timers: false`: the simulator drives time. */
  start(timers: boolean): void {
    if (!timers) return;
    this.sweepTimer = setInterval(() => this.guard.sweep(), 1000);
    this.sweepTimer.unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    this.replica?.stop();
  }

  /**
   * Ingress: false drops the message (a banned source). Each request that arrived here from the
   * network (not one another node relayed) counts toward its source's rate; trusted peers never do.
   */
  admit(source: string, isRequest: boolean, relayed: boolean): boolean {
    if (this.policy.isTrusted(source)) return true;
    if (this.guard.isBanned(source)) {
      this.guard.counters.banned_drops++;
      return false;
    }
    if (!isRequest || relayed) return true;
    return !this.guard.request(source);
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

  /** anysip_auth_* of /metrics, all counters but the GAUGES. */
  figures(): Record<string, number> {
    return {
      ...(this.authenticator?.counters ?? {}),
      ...this.policy.counters,
      ...this.guard.counters,
      subscribers: this.subscribers?.size ?? 0,
      nonces: this.authenticator?.noncesHeld ?? 0,
      banned_sources: this.guard.bans().length,
      locked_users: this.guard.lockedUsers,
    };
  }

  static readonly GAUGES = ['subscribers', 'nonces', 'banned_sources', 'locked_users'];

  /** POST /ban?source=A&seconds=S&reason=R: ban a source on every node (`anysip ban add`). */
  banAction(q: URLSearchParams): object {
    const source = q.get('source') ?? '';
    const seconds = Number(q.get('seconds') ?? 3600);
    if (isIP(source) === 0) throw new Error(`source must be an IP address, got "${source}"`);
    if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`seconds must be a whole number >= 1, got "${q.get('seconds')}"`);
    this.guard.ban(source, seconds, `manual${q.get('reason') ? `: ${q.get('reason')}` : ''}`);
    return { banned: source, bans: this.guard.bans() };
  }

  /** POST /unban?source=A (`anysip ban remove`). */
  unbanAction(q: URLSearchParams): object {
    const source = q.get('source') ?? '';
    return { unbanned: this.guard.unban(source) ? source : null, bans: this.guard.bans() };
  }

  /** `auth` of /status. */
  status(): Record<string, unknown> {
    return {
      ...this.figures(),
      realm: this.config.realm ?? "(the request's domain)",
      algorithms: this.config.algorithms,
      open_relay: this.config.open_relay,
      bans: this.guard.bans(),
      // This node's own counts in the current rate window (each node counts what reached it first).
      rates: this.guard.topSources(),
      ...(this.replica ? { sync: this.replica.sync } : {}),
    };
  }
}
