// The two proxies under test, each started as its own process tree here and
// stopped by PID: anysip (`anysip start`, one Node process) and Kamailio
// (`kamailio -DD`, a main process and its forked workers).

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, processTree, sleep, treeCpu, treeMem, waitExit, type Cpu } from './proc.js';

export interface MemSample {
  /** sum of RSS over the process tree, bytes */
  rss: number;
  /** sum of PSS over the process tree, bytes */
  pss: number;
  processes: number;
  /** anysip: V8 heap in use after a forced full GC, bytes */
  heapUsed?: number;
  /** anysip: external + arrayBuffers (Buffers), bytes */
  external?: number;
  /** Kamailio: shared memory in use (kamcmd core.shmmem real_used), bytes */
  shmUsed?: number;
}

export interface ProxyUnderTest {
  /** short key: anysip, kam1, kam8 */
  key: string;
  label: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly pid: number;
  cpu(): Cpu;
  memory(): Promise<MemSample>;
  /** what its processes are, for the report */
  describe(): string;
}

async function waitFor(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (ok()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function readPid(file: string): number {
  return existsSync(file) ? Number(readFileSync(file, 'latin1').trim()) : 0;
}

/** SIGTERM the root, then SIGKILL whatever of its tree is left, each by its own PID. */
async function stopTree(root: number, child: ChildProcess | undefined): Promise<void> {
  if (!root || !isAlive(root)) return;
  const tree = processTree(root);
  try {
    process.kill(root, 'SIGTERM');
  } catch {
    // gone
  }
  await waitExit(root, 8000);
  for (const pid of tree) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  if (child && child.exitCode === null && child.signalCode === null) {
    await new Promise((r) => child.once('exit', r));
  }
}

export class AnysipProxy implements ProxyUnderTest {
  private child: ChildProcess | undefined;
  private rootPid = 0;
  private readonly pidFile: string;
  private readonly memFile: string;

  constructor(
    private readonly repo: string,
    private readonly dir: string,
    readonly port: number,
    private readonly config: string,
    readonly key = 'anysip',
    readonly label = 'anysip',
  ) {
    this.pidFile = join(dir, `${key}.pid`);
    this.memFile = join(dir, `${key}-mem.json`);
  }

  get pid(): number {
    return this.rootPid;
  }

  describe(): string {
    return 'one Node.js process (one event loop; V8 and libuv helper threads counted in its CPU)';
  }

  async start(): Promise<void> {
    rmSync(this.pidFile, { force: true });
    const log = openSync(join(this.dir, `${this.key}.log`), 'a');
    this.child = spawn(
      process.execPath,
      [
        '--expose-gc',
        '--require', join(this.repo, 'bench/lib/memprobe.cjs'),
        join(this.repo, 'bin/anysip.mjs'),
        'start', '--config', this.config, '--pid-file', this.pidFile,
      ],
      { cwd: this.repo, stdio: ['ignore', log, log], env: { ...process.env, ANYSIP_BENCH_MEMFILE: this.memFile } },
    );
    closeSync(log);
    const child = this.child;
    await waitFor('anysip to start (pid file)', 15000, () => {
      if (child.exitCode !== null) throw new Error(`${this.label} exited with ${child.exitCode}: see ${join(this.dir, `${this.key}.log`)}`);
      return readPid(this.pidFile) > 0;
    });
    this.rootPid = readPid(this.pidFile);
    if (this.rootPid !== child.pid) throw new Error(`${this.label} pid file says ${this.rootPid}, started ${child.pid}`);
  }

  async stop(): Promise<void> {
    await stopTree(this.rootPid, this.child);
    this.rootPid = 0;
  }

  cpu(): Cpu {
    return treeCpu(this.rootPid);
  }

  async memory(): Promise<MemSample> {
    rmSync(this.memFile, { force: true });
    process.kill(this.rootPid, 'SIGUSR2');
    await waitFor('anysip heap figures', 10000, () => existsSync(this.memFile));
    const m = JSON.parse(readFileSync(this.memFile, 'latin1')) as { heapUsed: number; external: number; arrayBuffers: number; gc: boolean };
    if (!m.gc) throw new Error('anysip was not started with --expose-gc');
    await sleep(200);
    const t = treeMem(this.rootPid);
    return { ...t, heapUsed: m.heapUsed, external: m.external };
  }
}

export class KamailioProxy implements ProxyUnderTest {
  readonly key: string;
  readonly label: string;
  private child: ChildProcess | undefined;
  private rootPid = 0;
  private readonly runDir: string;
  private readonly pidFile: string;
  private readonly ctl: string;

  constructor(
    private readonly cfg: string,
    dir: string,
    readonly port: number,
    readonly children: number,
    private readonly uas: string,
  ) {
    this.key = `kam${children}`;
    this.label = `Kamailio (${children} worker${children === 1 ? '' : 's'})`;
    this.runDir = join(dir, this.key);
    mkdirSync(this.runDir, { recursive: true });
    this.pidFile = join(this.runDir, 'kamailio.pid');
    this.ctl = join(this.runDir, 'kamailio_ctl');
  }

  get pid(): number {
    return this.rootPid;
  }

  private processes = 0;

  describe(): string {
    const n = this.rootPid ? processTree(this.rootPid).length : this.processes;
    return `${n} processes (main, ${this.children} UDP receiver${this.children === 1 ? '' : 's'}, timers, ctl for kamcmd), CPU and memory summed over all of them`;
  }

  async start(): Promise<void> {
    rmSync(this.pidFile, { force: true });
    const log = openSync(join(this.runDir, 'kamailio.log'), 'a');
    // -m 2048: tm keeps ~14 KB of shared memory per transaction for its 5 s wait timer, so at 1,000 calls/s
    // (two transactions a call) the Debian default of 64 MB runs out and t_relay answers 500. Pages are only
    // touched when used: the size costs nothing until then.
    this.child = spawn(
      'kamailio',
      [
        '-f', this.cfg, '-DD', '-E',
        '-P', this.pidFile, '-Y', this.runDir,
        '-m', '2048', '-M', '8',
        '-A', `BENCH_PORT=${this.port}`,
        '-A', `BENCH_CHILDREN=${this.children}`,
        '-A', `BENCH_CTL="unix:${this.ctl}"`,
        '-A', `BENCH_UAS="${this.uas}"`,
      ],
      { cwd: this.runDir, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const child = this.child;
    await waitFor('Kamailio to start (pid file, ctl socket)', 15000, () => {
      if (child.exitCode !== null) throw new Error(`kamailio exited with ${child.exitCode}: see ${join(this.runDir, 'kamailio.log')}`);
      return readPid(this.pidFile) > 0 && existsSync(this.ctl);
    });
    this.rootPid = readPid(this.pidFile);
    if (this.rootPid !== child.pid) throw new Error(`kamailio pid file says ${this.rootPid}, started ${child.pid}`);
    await sleep(500); // workers forked
    this.processes = processTree(this.rootPid).length;
  }

  async stop(): Promise<void> {
    await stopTree(this.rootPid, this.child);
    this.rootPid = 0;
  }

  cpu(): Cpu {
    return treeCpu(this.rootPid);
  }

  async memory(): Promise<MemSample> {
    const t = treeMem(this.rootPid);
    let shmUsed: number | undefined;
    try {
      const out = execFileSync('kamcmd', ['-s', `unix:${this.ctl}`, 'core.shmmem'], { encoding: 'utf8', timeout: 5000 });
      const m = out.match(/real_used:\s*(\d+)/);
      if (m) shmUsed = Number(m[1]);
    } catch {
      // kamcmd missing or ctl not answering: RSS/PSS only
    }
    return { ...t, shmUsed };
  }
}
