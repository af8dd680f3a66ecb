// Caps on stream (TCP + WebSocket) connections, per source (IPv4 address, IPv6 /64) and in total, so
// a flood cannot take the file descriptors UDP, the cluster bus, the admin API
// and established phones need. A connection over a cap is closed at once and
// counted; existing connections are never dropped to admit new ones.

import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Logger } from '../core/log.js';

export type RefusalReason = 'per_source' | 'total';

/**
 * The soft RLIMIT_NOFILE of this process: /proc/self/limits, else `ulimit -n` in a child shell (same limit), else 1024.
 * Node raises the soft limit to the hard one at startup, so this is normally the hard limit.
 */
export function fdLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    if (m !== null) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch {
    // not Linux: ask a shell
  }
  try {
    const r = spawnSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'latin1', timeout: 2000 });
    const v = r.stdout.trim();
    if (v === 'unlimited') return 1 << 20;
    const n = Number(v);
    if (Number.isInteger(n) && n > 0) return n;
  } catch {
    // fall through
  }
  return 1024;
}

/**
 * Descriptors kept back for everything that is not an inbound stream
 * connection: UDP sockets, listeners, the bus, admin, logs, outgoing
 * connections: 10% of the limit, at least 128.
 */
export function fdReserve(limit: number): number {
  return Math.max(128, Math.ceil(limit * 0.1));
}

/** Default total cap: the fd limit less the reserve, at least 16. */
export function defaultMaxConnections(limit = fdLimit()): number {
  return Math.max(16, limit - fdReserve(limit));
}

/** Default per-source cap: a tenth of the total (a NAT may hide many phones), at least 16, at most the total. */
export function defaultMaxConnectionsPerSource(total: number): number {
  return Math.min(total, Math.max(16, Math.floor(total / 10)));
}

/**
 * What a per-source cap counts against: an IPv4 address itself, an IPv6 address by its /64
 * (one customer's subnet: a host picks any of 2^64 addresses in it, so a per-address cap
 * would not hold it). `address` is normalized (no brackets, v4-mapped addresses unmapped).
 */
export function sourceKey(address: string): string {
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.toLowerCase().split('::', 2);
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail (::a.b.c.d) stands for two groups; only the first four groups matter.
  const rightGroups = right.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const zeros = tail === undefined ? 0 : Math.max(0, 8 - left.length - rightGroups);
  const groups = [...left, ...new Array<string>(zeros).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export interface ConnectionLimitsOptions {
  maxConnections: number;
  maxConnectionsPerSource: number;
  /** Refusal log lines: at most one per source per this interval, with the count. Default 10 000 ms. */
  logIntervalMs?: number;
  log?: Logger;
  now?: () => number;
}

/** Counts refused connections by reason (the layer's stats object holds it). */
export interface RefusalCounters {
  per_source: number;
  total: number;
}

export class ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerSource: number;
  private readonly logIntervalMs: number;
  private readonly log: Logger | undefined;
  private readonly now: () => number;
  private readonly refused: RefusalCounters;
  private open = 0;
  private readonly bySource = new Map<string, number>();
  /** Per source: when its last refusal line was written, and refusals since then. */
  private readonly logged = new Map<string, { at: number; suppressed: number; reason: RefusalReason }>();

  constructor(opts: ConnectionLimitsOptions, refused: RefusalCounters) {
    this.maxConnections = opts.maxConnections;
    this.maxConnectionsPerSource = opts.maxConnectionsPerSource;
    this.logIntervalMs = opts.logIntervalMs ?? 10_000;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.refused = refused;
  }

  /** Inbound stream connections counted now. */
  get count(): number {
    return this.open;
  }

  /**
   * Admits one inbound connection from `address` (a normalized IP; IPv6 counted by its /64)
   * or refuses it (counted and logged). An admitted connection must be released once.
   */
  admit(address: string): boolean {
    const source = sourceKey(address);
    const fromSource = this.bySource.get(source) ?? 0;
    let reason: RefusalReason | null = null;
    if (fromSource >= this.maxConnectionsPerSource) reason = 'per_source';
    else if (this.open >= this.maxConnections) reason = 'total';
    if (reason !== null) {
      this.refused[reason]++;
      this.logRefusal(source, reason);
      return false;
    }
    this.open++;
    this.bySource.set(source, fromSource + 1);
    return true;
  }

  release(address: string): void {
    const source = sourceKey(address);
    const n = this.bySource.get(source);
    if (n === undefined) return;
    this.open--;
    if (n <= 1) this.bySource.delete(source);
    else this.bySource.set(source, n - 1);
  }

  private logRefusal(source: string, reason: RefusalReason): void {
    if (this.log === undefined) return;
    const t = this.now();
    const entry = this.logged.get(source);
    if (entry !== undefined && t - entry.at < this.logIntervalMs) {
      entry.suppressed++;
      entry.reason = reason;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.log.info(
      {
        source,
        reason,
        refused_since_last_line: suppressed + 1,
        max_connections: this.maxConnections,
        max_connections_per_source: this.maxConnectionsPerSource,
        open: this.open,
      },
      'stream connection refused: over the connection cap',
    );
    this.logged.set(source, { at: t, suppressed: 0, reason });
    // Forget old sources now and then so a spray of sources cannot grow the map forever.
    if (this.logged.size > 4096) {
      for (const [k, v] of this.logged) if (t - v.at >= this.logIntervalMs) this.logged.delete(k);
      if (this.logged.size > 4096) this.logged.clear();
    }
  }
}
