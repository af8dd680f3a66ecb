// Abuse kept out, for the whole cluster at once (what Kamailio's `pike` and a
// fail2ban on auth failures do, per node). Three counters, each per window:
// requests per source, failed authentications per source, and per user. Over
// a limit, the source is banned (or the user locked) for a while, on every node.
//
// Counts are per-node contributions in a replicated table (src/replica): a node
// publishes its count for a subject each time it grows by a step of
// limit / (4 x up nodes), and compares its own count plus the others' last
// published ones with the limit. A source that sprays every node is therefore
// held to the limit once, not N times. Worst overshoot: each other node may hold
// up to one unpublished step, so at most (N-1) / 4N of the limit, plus the
// replication lag (one event-loop turn and a bus hop). A ban is a record with
// an absolute expiry: every node drops the source at once, until the same moment.

import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { pb } from '../bin-proto/proto.js';
import { ReplicaTable } from '../replica/table.js';
import type { TableKind } from '../replica/types.js';

export interface AbuseRecord {
  count: number;
  window: number;
  reason: string;
  /** Counts: the count of the window before. */
  previous: number;
}

export interface Limit {
  /** Events allowed per window; 0: no limit. */
  limit: number;
  /** Seconds. */
  window: number;
  /** Seconds a ban (or lockout) lasts. */
  ban: number;
}

export interface AbuseSettings {
  rate: Limit;
  failures: Limit;
}

export interface AbuseCounters {
  /** Requests dropped because their source is banned. */
  banned_drops: number;
  bans_rate: number;
  bans_failures: number;
  bans_manual: number;
  lockouts: number;
}

export interface BanView {
  source: string;
  reason: string;
  until: string;
  by: number;
}

/** Subjects whose local counts are kept at most; past it, old windows go first. */
const MAX_LOCAL = 100_000;
const LONGEST_BAN_S = 7 * 24 * 3600;

/** The abuse table as a replicated kind. */
export const abuseKind: TableKind<AbuseRecord> = {
  name: 'abuse',
  capability: 'abuse',
  schema: 1,
  encode: (r) => pb.AbuseRecord.encode(r).finish(),
  decode: (bytes) => {
    const m = pb.AbuseRecord.decode(bytes);
    return { count: m.count ?? 0, window: m.window ?? 0, reason: m.reason ?? '', previous: m.previous ?? 0 };
  },
  horizonMs: LONGEST_BAN_S * 1000 + 60_000,
};

export class AbuseGuard {
  readonly table: ReplicaTable<AbuseRecord>;
  readonly counters: AbuseCounters = { banned_drops: 0, bans_rate: 0, bans_failures: 0, bans_manual: 0, lockouts: 0 };
  private readonly local = new Map<string, { window: number; count: number; previous: number; published: number }>();

  constructor(
    private readonly settings: AbuseSettings,
    private readonly selfId: number,
    private readonly clock: Clock,
    /** The nodes whose counts add up (the `up` nodes); a single node: just this one. */
    private readonly upNodes: () => readonly number[],
    private readonly log: Logger,
  ) {
    this.table = new ReplicaTable(abuseKind, selfId, clock);
  }

  /** The source is banned now. */
  isBanned(source: string): boolean {
    return this.table.get('b\n' + source) !== undefined;
  }

  /** Count one request from `source`; true when that took it over the rate limit (it is banned from now). */
  request(source: string): boolean {
    const r = this.settings.rate;
    if (r.limit <= 0 || !this.over('r', source, r)) return false;
    this.ban(source, r.ban, 'rate');
    return true;
  }

  /** A failed authentication by `source` as `user`: either may be locked out. */
  authFailed(source: string, user: string): void {
    const f = this.settings.failures;
    if (f.limit <= 0) return;
    if (this.over('f', source, f)) this.ban(source, f.ban, 'auth_failures');
    if (this.over('u', user, f) && !this.isLocked(user)) {
      this.table.put('l\n' + user, { count: 0, window: 0, reason: 'auth_failures', previous: 0 }, this.clock.now() + f.ban * 1000);
      this.counters.lockouts++;
      this.log.warn({ user, seconds: f.ban }, 'user locked out after failed authentications');
    }
  }

  /** The user is locked out: its authentications fail, whatever the password. */
  isLocked(user: string): boolean {
    return this.table.get('l\n' + user) !== undefined;
  }

  /** Ban `source` on every node for `seconds` (a reason starting with "manual" counts as manual). */
  ban(source: string, seconds: number, reason: string): void {
    if (this.table.get('b\n' + source) !== undefined) return;
    const s = Math.min(seconds, LONGEST_BAN_S);
    this.table.put('b\n' + source, { count: 0, window: 0, reason, previous: 0 }, this.clock.now() + s * 1000);
    if (reason === 'rate') this.counters.bans_rate++;
    else if (reason === 'auth_failures') this.counters.bans_failures++;
    else this.counters.bans_manual++;
    // Logged once per ban: a flood from a banned source is only counted after this.
    this.log.warn({ source, reason, seconds: s }, 'source banned on every node');
  }

  /** Lift a ban everywhere; false when there was none. */
  unban(source: string): boolean {
    const r = this.table.get('b\n' + source);
    if (!r) return false;
    this.table.remove('b\n' + source, r.value);
    return true;
  }

  bans(): BanView[] {
    const out: BanView[] = [];
    for (const r of this.table.entries()) {
      if (!r.key.startsWith('b\n')) continue;
      out.push({ source: r.key.slice(2), reason: r.value.reason, until: new Date(r.expiresAt).toISOString(), by: r.origin });
    }
    return out;
  }

  /** The busiest sources this node counted in the current rate window, busiest first (what /status shows as `rates`). */
  topSources(n = 10): Array<{ source: string; requests: number }> {
    const windowMs = this.settings.rate.window * 1000;
    const window = Math.floor(this.clock.now() / windowMs) * windowMs;
    const out: Array<{ source: string; requests: number }> = [];
    for (const [k, v] of this.local) if (k.startsWith('r\n') && v.window === window) out.push({ source: k.slice(2), requests: v.count });
    return out.sort((a, b) => b.requests - a.requests).slice(0, n);
  }

  get lockedUsers(): number {
    let n = 0;
    for (const r of this.table.entries()) if (r.key.startsWith('l\n')) n++;
    return n;
  }

  /** Expired counts and bans go (the node calls it every second). */
  sweep(): void {
    this.table.sweep();
  }

  /**
   * Count one event of `subject`; true when the cluster's count is over the limit. The count is a
   * sliding estimate over the last `window` seconds: this window's events plus the previous
   * window's, weighed by how much of it the sliding window still covers, so a burst across a
   * window boundary is not forgiven (a fixed window would let twice the limit through).
   */
  private over(kind: string, subject: string, l: Limit): boolean {
    const now = this.clock.now();
    const windowMs = l.window * 1000;
    const window = Math.floor(now / windowMs) * windowMs;
    const weight = 1 - (now - window) / windowMs;
    const key = kind + '\n' + subject;
    let c = this.local.get(key);
    if (!c || c.window !== window) {
      if (!c && this.local.size >= MAX_LOCAL) this.forgetOld(now);
      const previous = c && c.window === window - windowMs ? c.count : 0;
      c = { window, count: 0, previous, published: 0 };
      this.local.set(key, c);
    }
    c.count++;
    let total = c.count + c.previous * weight;
    const up = this.upNodes();
    if (up.length <= 1) return total > l.limit;
    if (c.count - c.published >= Math.max(1, Math.floor(l.limit / (4 * up.length)))) {
      this.table.put(`${key}\n${this.selfId}`, { count: c.count, window, reason: '', previous: c.previous }, window + 2 * windowMs);
      c.published = c.count;
    }
    for (const node of up) {
      if (node === this.selfId) continue;
      const r = this.table.get(`${key}\n${node}`, now);
      if (!r) continue;
      if (r.value.window === window) total += r.value.count + r.value.previous * weight;
      else if (r.value.window === window - windowMs) total += r.value.count * weight;
    }
    return total > l.limit;
  }

  /** Local counts of past windows go; if that is not enough, the oldest. */
  private forgetOld(now: number): void {
    const longest = Math.max(this.settings.rate.window, this.settings.failures.window) * 1000;
    for (const [k, v] of this.local) if (v.window + longest < now) this.local.delete(k);
    while (this.local.size >= MAX_LOCAL) this.local.delete(this.local.keys().next().value!);
  }
}
