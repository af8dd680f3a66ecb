// Drain and undrain a node (DESIGN.md, "Node states"): maintenance without dropped calls.
//
//   drain:    state `draining` at once (peers leave the node out of the up set, so it gets no new
//             call), then the withdraw command (stop announcing the anycast route). The node keeps
//             serving every transaction it holds; strays for them still reach it over the bus.
//             Once it has been draining for `grace` ms and has held no transaction for `grace` ms,
//             it is `drained`. A transaction that shows up while drained (an in-dialog request
//             routed through this node by its Record-Route) sends it back to `draining`.
//   undrain:  state `up` (takes new calls again), then the announce command.
//
// Without a cluster the state is local: it shows in /status and the commands still run.

import { spawn } from 'node:child_process';
import type { DrainConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';

export type DrainState = 'joining' | 'up' | 'draining' | 'drained';

/** What the node's own membership offers (ClusterMembership), when it has one. */
export interface OwnStateHolder {
  readonly ownState: DrainState;
  setState(state: 'up' | 'draining' | 'drained'): void;
}

export interface CommandResult {
  command: string;
  /** Exit code; null when it was killed (timeout) or could not start. */
  exit: number | null;
  ok: boolean;
  ms: number;
  /** When it ran (ISO time). */
  at: string;
  /** Last lines of stdout + stderr. */
  output: string;
  error?: string;
}

export type CommandRunner = (command: string, timeoutMs: number) => Promise<Omit<CommandResult, 'at'>>;

export interface DrainOptions {
  settings: DrainConfig;
  /** The cluster membership; absent: a single node, the state is kept here. */
  membership?: OwnStateHolder;
  /** Transactions this node holds right now. */
  held: () => { server: number; client: number };
  clock: Clock;
  log: Logger;
  /** Replaces running the commands with /bin/sh (tests). */
  run?: CommandRunner;
  /** Check interval, ms (default 100). */
  intervalMs?: number;
  /** false: no interval timer; call check() yourself (tests). Default true. */
  realTimers?: boolean;
}

export interface DrainStatus {
  state: DrainState;
  /** When the node started draining (ISO time), while draining or drained. */
  since?: string;
  draining_for_ms?: number;
  /** What is left: transactions held. Dialogs are not tracked (the proxy is dialog-stateless). */
  left: { server_transactions: number; client_transactions: number };
  /** ms since the node last held a transaction (while draining). */
  idle_ms?: number;
  grace_ms: number;
  /** When the node became drained (ISO time). */
  drained_at?: string;
  withdraw?: CommandResult;
  announce?: CommandResult;
}

export class Drain {
  private localState: DrainState = 'up';
  private since: number | undefined;
  private lastBusy = 0;
  private drainedAt: number | undefined;
  private withdrawResult: CommandResult | undefined;
  private announceResult: CommandResult | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly run: CommandRunner;

  constructor(private readonly o: DrainOptions) {
    this.run = o.run ?? runShell;
  }

  get state(): DrainState {
    return this.o.membership?.ownState ?? this.localState;
  }

  /** Start draining (idempotent: a node already draining or drained only reports its status). */
  async drain(): Promise<DrainStatus> {
    const s = this.state;
    if (s === 'draining' || s === 'drained') return this.status();
    const now = this.o.clock.now();
    this.since = now;
    this.lastBusy = now;
    this.drainedAt = undefined;
    this.setState('draining');
    this.o.log.info({ from: s, held: this.o.held() }, 'drain: draining');
    this.startTimer();
    const cmd = this.o.settings.withdraw_command;
    if (cmd) {
      this.withdrawResult = await this.command('withdraw', cmd);
    }
    this.check();
    return this.status();
  }

  /** Back to `up`: take new calls again, announce the route again (idempotent when up). */
  async undrain(): Promise<DrainStatus> {
    const s = this.state;
    if (s === 'up' || s === 'joining') return this.status();
    this.stopTimer();
    this.since = undefined;
    this.drainedAt = undefined;
    this.setState('up');
    this.o.log.info({ from: s }, 'drain: undrained, up');
    const cmd = this.o.settings.announce_command;
    if (cmd) this.announceResult = await this.command('announce', cmd);
    return this.status();
  }

  /** Move to drained when nothing is left (called every intervalMs while draining). */
  check(): void {
    const s = this.state;
    if (s !== 'draining' && s !== 'drained') return;
    const now = this.o.clock.now();
    const h = this.o.held();
    const busy = h.server + h.client > 0;
    if (busy) this.lastBusy = now;
    const grace = this.o.settings.grace;
    if (s === 'draining' && !busy && now - (this.since ?? now) >= grace && now - this.lastBusy >= grace) {
      this.drainedAt = now;
      this.setState('drained');
      this.o.log.info({ draining_ms: Math.round(now - (this.since ?? now)) }, 'drain: drained, nothing left');
    } else if (s === 'drained' && busy) {
      // An in-dialog request routed through us (Record-Route): not safe to stop after all.
      this.drainedAt = undefined;
      this.setState('draining');
      this.o.log.info({ held: h }, 'drain: a transaction arrived while drained, draining again');
    }
  }

  status(): DrainStatus {
    const now = this.o.clock.now();
    const h = this.o.held();
    const s = this.state;
    const draining = s === 'draining' || s === 'drained';
    const wall = (t: number) => new Date(Date.now() - (now - t)).toISOString();
    return {
      state: s,
      ...(draining && this.since !== undefined ? { since: wall(this.since), draining_for_ms: Math.round(now - this.since), idle_ms: Math.round(now - this.lastBusy) } : {}),
      left: { server_transactions: h.server, client_transactions: h.client },
      grace_ms: this.o.settings.grace,
      ...(s === 'drained' && this.drainedAt !== undefined ? { drained_at: wall(this.drainedAt) } : {}),
      ...(this.withdrawResult ? { withdraw: this.withdrawResult } : {}),
      ...(this.announceResult ? { announce: this.announceResult } : {}),
    };
  }

  stop(): void {
    this.stopTimer();
  }

  private setState(state: 'up' | 'draining' | 'drained'): void {
    if (this.o.membership) this.o.membership.setState(state);
    else this.localState = state;
  }

  private async command(what: string, cmd: string): Promise<CommandResult> {
    const at = new Date().toISOString();
    const r = { ...(await this.run(cmd, this.o.settings.command_timeout)), at };
    if (r.ok) this.o.log.info({ command: cmd, ms: r.ms }, `drain: ${what} command done`);
    else this.o.log.error({ command: cmd, exit: r.exit, error: r.error, output: r.output }, `drain: ${what} command failed`);
    return r;
  }

  private startTimer(): void {
    if (this.timer || this.o.realTimers === false) return;
    this.timer = setInterval(() => this.check(), this.o.intervalMs ?? 100);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

const OUTPUT_MAX = 2000;

/** Run `sh -c command`, killing its process group after timeoutMs. Never throws. */
export function runShell(command: string, timeoutMs: number): Promise<Omit<CommandResult, 'at'>> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let output = '';
    let done = false;
    let timedOut = false;
    const finish = (exit: number | null, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const out = output.length > OUTPUT_MAX ? output.slice(-OUTPUT_MAX) : output;
      resolve({ command, exit, ok: exit === 0 && !error, ms: Date.now() - t0, output: out.trim(), ...(error ? { error } : {}) });
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (e) {
      resolve({ command, exit: null, ok: false, ms: 0, output: '', error: (e as Error).message });
      return;
    }
    const collect = (b: Buffer) => {
      output += b.toString();
      if (output.length > 4 * OUTPUT_MAX) output = output.slice(-OUTPUT_MAX);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL'); // its own process group, by its pid
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('error', (e) => finish(null, e.message));
    child.on('close', (code) => finish(timedOut ? null : code, timedOut ? `timed out after ${timeoutMs} ms` : code === 0 ? undefined : `exit ${code}`));
  });
}
