// End-to-end harness: a real node on loopback, real SIPp processes around it.

import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/log.js';
import { Node } from '../../src/node/node.js';

export const SCENARIOS = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');

/** SIPp must be installed (scripts/ensure-system-tools.mjs does it for `npm test`). Fail loudly, never skip. */
export function requireSipp(): void {
  const r = spawnSync('sipp', ['-v'], { encoding: 'utf8' });
  if (r.error) {
    throw new Error('SIPp is not installed: run `node scripts/ensure-system-tools.mjs` as root (Debian package sip-tester)');
  }
}

/** Ports this process has handed out: a port is chosen free but bound later, so two
 *  concurrent tests of one file could otherwise get the same one (seen: a REGISTER and the
 *  INVITE after it landing on two different nodes, the INVITE answered 404). */
const handedOut = new Set<number>();

/** A port free for both UDP and TCP on 127.0.0.1, never the same twice in one process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (udpFree && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found');
}

/** Start an in-process node from YAML text. */
export async function startNode(yaml: string): Promise<Node> {
  const node = new Node(parseConfig(yaml, 'e2e-test.yaml'), { log: silentLogger() });
  await node.start();
  return node;
}

/** Config for a proxy on `port` (udp+tcp) routing user prefix `service` to a UAS. */
export function proxyYaml(port: number, uasPort: number, uasTransport: 'udp' | 'tcp' = 'udp', extra = ''): string {
  return `
node: { id: 7, branch_secret: e2e-secret-0123456789 }
listen:
  - { id: udp, transport: udp, address: 127.0.0.1, port: ${port} }
  - { id: tcp, transport: tcp, address: 127.0.0.1, port: ${port} }
routes:
  - match: { user_prefix: service }
    targets: ["sip:127.0.0.1:${uasPort};transport=${uasTransport}"]
admin: { enabled: false }
log: { level: error }
${extra}`;
}

export interface SippRun {
  code: number | null;
  stdout: string;
  stderr: string;
  errors: string;
  /** Kill the process if still running (by its PID, which we started). */
  stop(): void;
  done: Promise<SippRun>;
}

export interface SippOptions {
  scenario: string;
  /** Remote host:port (the proxy); omit for a UAS. */
  remote?: string;
  localPort: number;
  transport?: 'u1' | 't1';
  calls?: number;
  rate?: number;
  service?: string;
  keys?: Record<string, string>;
  timeoutS?: number;
  /** Digest credentials for [authentication] (-au, -ap). */
  auth?: { user: string; password: string };
}

/** Run SIPp with a scenario file from test/e2e/scenarios (or an absolute path). */
export function sipp(o: SippOptions): SippRun {
  const dir = mkdtempSync(join(tmpdir(), 'anysip-sipp-'));
  const errFile = join(dir, 'errors.log');
  const scenario = o.scenario.includes('/') ? o.scenario : join(SCENARIOS, o.scenario);
  const args = [
    ...(o.remote ? [o.remote] : []),
    '-sf', scenario,
    '-i', '127.0.0.1',
    '-p', String(o.localPort),
    '-t', o.transport ?? 'u1',
    '-m', String(o.calls ?? 1),
    '-r', String(o.rate ?? 10),
    '-timeout', `${o.timeoutS ?? 20}s`,
    '-timeout_error',
    '-nostdin',
    '-trace_err', '-error_file', errFile,
    ...(o.service ? ['-s', o.service] : []),
    ...Object.entries(o.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
    ...(o.auth ? ['-au', o.auth.user, '-ap', o.auth.password] : []),
  ];
  const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: SippRun = {
    code: null,
    stdout: '',
    stderr: '',
    errors: '',
    stop: () => {
      if (run.code === null && child.pid) process.kill(child.pid, 'SIGTERM');
    },
    done: undefined as unknown as Promise<SippRun>,
  };
  child.stdout.on('data', (d: Buffer) => (run.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (run.stderr += d.toString()));
  run.done = new Promise((resolve) => {
    child.on('close', (code) => {
      run.code = code;
      if (existsSync(errFile)) run.errors = readFileSync(errFile, 'utf8');
      resolve(run);
    });
  });
  return run;
}

/** A one-line explanation of a failed SIPp run for assertion messages. */
export function explain(run: SippRun): string {
  const tail = (s: string) => s.split('\n').filter(Boolean).slice(-15).join('\n');
  return `sipp exit ${run.code}\n--- stderr\n${tail(run.stderr)}\n--- errors\n${tail(run.errors)}\n--- stdout\n${tail(run.stdout)}`;
}

export interface NodeProcess {
  pid: number;
  /** Everything the process wrote (bunyan JSON lines on stdout, and stderr). */
  logs(): string;
  /** GET /status on the admin endpoint, parsed. */
  status(): Promise<Record<string, any>>;
  /** SIGTERM by pid (ours), then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * A real node process: `node bin/anysip.mjs start --config FILE` (needs `npm run build`), admin on `adminPort`.
 * `nofile` lowers its RLIMIT_NOFILE first, soft and hard (Node raises the soft limit to the hard one at startup);
 * a shell runs `ulimit -n`, then execs node: same pid.
 */
export async function spawnNode(yaml: string, adminPort: number, opts: { nofile?: number } = {}): Promise<NodeProcess> {
  if (!existsSync(join(process.cwd(), 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'anysip-node-'));
  const config = join(dir, 'node.yaml');
  const pidFile = join(dir, 'anysip.pid');
  writeFileSync(config, yaml);
  const args = [join(process.cwd(), 'bin', 'anysip.mjs'), 'start', '--config', config, '--pid-file', pidFile];
  const child =
    opts.nofile === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `ulimit -n ${opts.nofile} && exec "$0" "$@"`, process.execPath, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let logs = '';
  child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
  child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const pid = child.pid ?? -1;
  for (let i = 0; i < 100 && !existsSync(pidFile) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(pidFile)) {
    if (child.exitCode === null) process.kill(pid, 'SIGKILL');
    throw new Error(`node did not start:\n${logs}`);
  }
  return {
    pid,
    logs: () => logs,
    status: async () => (await (await fetch(`http://127.0.0.1:${adminPort}/status`)).json()) as Record<string, any>,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGTERM');
      await exited;
    },
  };
}

/**
 * The `cluster:` section of one in-process node of a loopback cluster, with the fast failure
 * detection the tests want. `members`: every node's bus address and port, node id = index + 1.
 */
export function clusterSection(id: number, members: ReadonlyArray<{ address: string; bus: number }>, secret: string, extra = ''): string {
  const me = members[id - 1]!;
  return `cluster:
  secret: ${secret}
  bus: { address: ${me.address}, port: ${me.bus} }
  peers: [${members.map((m, i) => `{ id: ${i + 1}, address: ${m.address}, port: ${m.bus} }`).join(', ')}]
  heartbeat_interval: 50
  failure_timeout: 300
${extra}`;
}

/** Poll `cond` every 20 ms; throw, naming `what`, after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every node sees `n` nodes up. */
export const allUp = (nodes: ReadonlyArray<Node>, n: number): boolean => nodes.every((x) => x.cluster!.membership.upNodes().length === n);
