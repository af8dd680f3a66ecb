// Running SIPp for the bench: a UAC and a UAS process per run, every process
// started here is tracked by PID and stopped by PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, type Cpu } from './proc.js';

export interface SippSpec {
  scenario: string;
  /** run directory (cwd): SIPp writes its logs, stats and traces here */
  dir: string;
  /** label for file names */
  name: string;
  remote?: string;
  localPort: number;
  /** -m; omit for a UAS that runs until stopped */
  calls?: number;
  rate?: number;
  /** <pause/> length in ms (-d) */
  pauseMs?: number;
  /** a call waiting longer than this for a message fails (-recv_timeout) */
  recvTimeoutMs?: number;
  /** SIPp stops itself after this (-timeout), whatever happens */
  timeoutS: number;
  /** -trace_shortmsg: one line per message with a microsecond time stamp */
  shortMsg?: boolean;
  /** -trace_rtt: SIPp's own response-time samples (ms resolution) */
  rtt?: boolean;
  service?: string;
  /** max simultaneous calls (-l) */
  limit?: number;
  /** send every message to this host:port instead of where the peer's message came from (-rsa) */
  sendTo?: string;
}

/** One SIPp load through a proxy (bench/run.ts `callRun`). */
export interface CallOptions {
  calls: number;
  rate: number;
  pauseMs?: number;
  shortMsg?: boolean;
  rtt?: boolean;
  timeoutS?: number;
  recvTimeoutMs?: number;
  /** the UAS sends its messages here instead of back to the proxy's socket (-rsa) */
  uasSendTo?: string;
}

export interface CallRun {
  uac: SippResult;
  uas: SippResult;
  /** the proxy's CPU from just before the UAC started to after the UAS stopped */
  cpu: Cpu;
  wallS: number;
  uacSipp: Sipp;
}

/** What a call run drives: SIPp's caller sends to 127.0.0.1:`port`; `cpu()` is read around the run. */
export interface CallTarget {
  key: string;
  port: number;
  cpu(): Cpu;
}

export type CallRunner = (p: CallTarget, o: CallOptions) => Promise<CallRun>;

export interface SippStats {
  [column: string]: string;
}

export interface SippResult {
  code: number | null;
  /** last line of the -trace_stat CSV, by column */
  stats: SippStats;
  successful: number;
  failed: number;
  retransmissions: number;
  elapsedS: number;
  errorsTail: string;
}

const live = new Set<ChildProcess>();

/** Stop every SIPp still running (by PID). */
export function killAllSipp(): void {
  for (const c of live) if (c.pid && c.exitCode === null) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export class Sipp {
  private readonly child: ChildProcess;
  readonly done: Promise<number | null>;
  readonly statFile: string;

  constructor(readonly spec: SippSpec) {
    const s = spec;
    this.statFile = join(s.dir, `${s.name}_stat.csv`);
    const args = [
      ...(s.remote ? [s.remote] : []),
      '-sf', s.scenario,
      '-i', '127.0.0.1',
      '-p', String(s.localPort),
      '-t', 'u1',
      ...(s.calls !== undefined ? ['-m', String(s.calls)] : []),
      ...(s.rate !== undefined ? ['-r', String(s.rate), '-rp', '1000'] : []),
      '-d', String(s.pauseMs ?? 0),
      '-l', String(s.limit ?? 15000),
      ...(s.recvTimeoutMs ? ['-recv_timeout', String(s.recvTimeoutMs)] : []),
      '-timeout', `${s.timeoutS}s`,
      '-timeout_error',
      '-nostdin',
      '-trace_err', '-error_file', join(s.dir, `${s.name}_errors.log`),
      '-trace_stat', '-stf', this.statFile, '-fd', '1',
      ...(s.shortMsg ? ['-trace_shortmsg', '-shortmessage_file', join(s.dir, `${s.name}_short.log`)] : []),
      ...(s.rtt ? ['-trace_rtt', '-rtt_freq', '1'] : []),
      ...(s.service ? ['-s', s.service] : []),
      ...(s.sendTo ? ['-rsa', s.sendTo] : []),
    ];
    const out = openSync(join(s.dir, `${s.name}.out`), 'w');
    this.child = spawn('sipp', args, { cwd: s.dir, stdio: ['ignore', out, out] });
    closeSync(out);
    live.add(this.child);
    this.done = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        live.delete(this.child);
        resolve(code);
      });
      this.child.on('error', (err) => {
        live.delete(this.child);
        process.stderr.write(`bench: cannot run sipp: ${err.message}\n`);
        resolve(null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Stop it by its PID (SIGUSR1 asks SIPp to quit; SIGKILL if it does not). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.pid) return;
    try {
      process.kill(this.child.pid, 'SIGUSR1');
    } catch {
      return;
    }
    const r = await Promise.race([this.done.then(() => true), sleep(3000).then(() => false)]);
    if (!r && this.child.exitCode === null) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await this.done;
    }
  }

  /** Latest stats line (SIPp dumps one a second, and one at exit). */
  stats(): SippStats {
    return readStats(this.statFile);
  }

  async result(): Promise<SippResult> {
    const code = await this.done;
    const stats = this.stats();
    const errFile = join(this.spec.dir, `${this.spec.name}_errors.log`);
    const errors = existsSync(errFile) ? readFileSync(errFile, 'latin1') : '';
    return {
      code,
      stats,
      successful: num(stats['SuccessfulCall(C)']),
      failed: num(stats['FailedCall(C)']),
      retransmissions: num(stats['Retransmissions(C)']),
      elapsedS: elapsed(stats['ElapsedTime(C)']),
      errorsTail: errors.split('\n').filter(Boolean).slice(-5).join('\n'),
    };
  }

  /** The -trace_rtt file SIPp names after the scenario and its PID. */
  rttFile(): string | undefined {
    const f = readdirSync(this.spec.dir).find((n) => n.endsWith(`_${this.pid}_rtt.csv`));
    return f ? join(this.spec.dir, f) : undefined;
  }

  shortFile(): string {
    return join(this.spec.dir, `${this.spec.name}_short.log`);
  }
}

export function readStats(file: string): SippStats {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'latin1').split('\n').filter((l) => l.trim());
  if (lines.length < 2) return {};
  const head = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  const out: SippStats = {};
  head.forEach((h, i) => (out[h] = last[i] ?? ''));
  return out;
}

function num(s: string | undefined): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}

/** "00:00:10:123456" (h:m:s:us) or seconds -> seconds */
function elapsed(s: string | undefined): number {
  if (!s) return 0;
  const p = s.split(':').map(Number);
  if (p.length === 4) return p[0]! * 3600 + p[1]! * 60 + p[2]! + p[3]! / 1e6;
  return num(s);
}

export interface Latency {
  /** microseconds */
  p50: number;
  p99: number;
  n: number;
}

export function percentiles(samples: number[]): Latency {
  if (!samples.length) return { p50: NaN, p99: NaN, n: 0 };
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), n: s.length };
}

/**
 * From the UAC's -trace_shortmsg log (time stamps in microseconds): per call,
 * INVITE sent -> 100 received (the proxy alone), INVITE sent -> 200 received
 * (proxy twice + UAS), BYE sent -> 200 received. First transmission only;
 * calls with a retransmission are still counted from the first send.
 */
export function shortMsgLatencies(file: string): { trying: number[]; answer: number[]; bye: number[] } {
  const trying: number[] = [];
  const answer: number[] = [];
  const bye: number[] = [];
  if (!existsSync(file)) return { trying, answer, bye };
  const inviteAt = new Map<string, number>();
  const byeAt = new Map<string, number>();
  const seen = new Set<string>();
  for (const line of readFileSync(file, 'latin1').split('\n')) {
    const f = line.split('\t');
    if (f.length < 7) continue;
    const t = Math.round(Number(f[2]) * 1e6);
    const dir = f[3];
    const callId = f[4]!;
    const cseq = f[5]!;
    const first = f[6]!;
    if (dir === 'S') {
      if (cseq.endsWith(' INVITE') && !inviteAt.has(callId)) inviteAt.set(callId, t);
      else if (cseq.endsWith(' BYE') && !byeAt.has(callId)) byeAt.set(callId, t);
      continue;
    }
    const code = first.slice(8, 11);
    if (cseq.endsWith(' INVITE')) {
      const t0 = inviteAt.get(callId);
      if (t0 === undefined) continue;
      const key = `${callId}\u0000${code}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (code === '100') trying.push(t - t0);
      else if (code === '200') answer.push(t - t0);
    } else if (cseq.endsWith(' BYE') && code === '200') {
      const t0 = byeAt.get(callId);
      const key = `${callId}\u0000BYE`;
      if (t0 === undefined || seen.has(key)) continue;
      seen.add(key);
      bye.push(t - t0);
    }
  }
  return { trying, answer, bye };
}

/** SIPp's own rtd samples (ms resolution) from a -trace_rtt file: rtd number -> ms values. */
export function rttSamples(file: string | undefined): Map<number, number[]> {
  const out = new Map<number, number[]>();
  if (!file || !existsSync(file)) return out;
  for (const line of readFileSync(file, 'latin1').split('\n').slice(1)) {
    const [, ms, no] = line.split(';');
    if (ms === undefined || no === undefined) continue;
    const k = Number(no);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(Number(ms));
  }
  return out;
}
