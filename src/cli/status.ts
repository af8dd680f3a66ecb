// `anysip status`: asks the node's admin endpoint and prints what it says.

import { loadConfig } from '../config/index.js';

export interface StatusOptions {
  config?: string;
  admin?: string;
  json?: boolean;
}

export async function runStatus(opts: StatusOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const endpoint = opts.admin ?? adminEndpoint(opts.config);
  let body: Record<string, unknown>;
  try {
    const res = await fetch(`http://${endpoint}/status`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as Record<string, unknown>;
  } catch (e) {
    err.write(`anysip status: cannot reach the admin endpoint at ${endpoint}: ${(e as Error).message}\n`);
    return 1;
  }
  if (opts.json) {
    out.write(JSON.stringify(body, null, 2) + '\n');
    return 0;
  }
  out.write(formatStatus(body));
  return 0;
}

/** host:port of the admin endpoint named by a config file (or the embedded default). */
export function adminEndpoint(file: string | undefined): string {
  const c = loadConfig(file);
  const host = c.admin.address.includes(':') ? `[${c.admin.address}]` : c.admin.address;
  return `${host}:${c.admin.port}`;
}

/** Human view: one line per fact, grouped like Kamailio's `kamcmd core.info` output. */
export function formatStatus(s: Record<string, unknown>): string {
  const lines: string[] = [];
  const node = s.node as { id: number; name: string; state: string } | undefined;
  if (node) lines.push(`node ${node.name} (id ${node.id}): ${node.state}, up ${String(s.uptime_seconds)}s`);
  for (const sock of (s.sockets as Array<Record<string, unknown>> | undefined) ?? []) {
    lines.push(`  listen ${String(sock.id)}: ${String(sock.transport)} ${String(sock.address)}:${String(sock.port)} (${String(sock.role)})`);
  }
  const tm = s.transactions as Record<string, number> | undefined;
  if (tm) lines.push(`  transactions: ${tm.serverTransactions} server, ${tm.clientTransactions} client, ${tm.timers} timers`);
  const reg = s.registrar as Record<string, number> | undefined;
  if (reg) lines.push(`  registrar: ${reg.contacts} contacts for ${reg.aors} AORs`);
  const sync = (s.location as { sync?: SyncView } | undefined)?.sync;
  if (sync) lines.push(`  location sync: ${formatSync(sync)}`);
  const auth = s.auth as (Record<string, number> & { bans?: Array<{ source: string; reason: string; until: string }> }) | undefined;
  if (auth) {
    lines.push(
      `  auth: ${auth.subscribers} subscribers; ${auth.auth_ok ?? 0} ok, ${auth.auth_failed ?? 0} failed, ${auth.auth_replays ?? 0} replays; ` +
        `${auth.relay_refused} relays refused; ${auth.banned_sources} sources banned (${auth.banned_drops} drops), ${auth.locked_users} users locked out`,
    );
    for (const b of auth.bans ?? []) lines.push(`    banned ${b.source} until ${b.until}: ${b.reason}`);
  }
  const drain = s.drain as DrainView | undefined;
  if (drain && drain.state !== 'up' && drain.state !== 'joining') lines.push(...formatDrain(drain).map((l) => `  ${l}`));
  const counters = s.counters as Record<string, unknown> | undefined;
  if (counters) for (const [k, v] of Object.entries(counters)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  const cluster = s.cluster as ClusterView | undefined;
  if (cluster) lines.push(...formatCluster(cluster));
  return lines.join('\n') + '\n';
}

interface SyncView {
  state: string;
  donor?: number;
  received: number;
  expected?: number;
  duration_ms?: number;
  reason?: string;
  attempts: number;
}

/** "done from node 2: 100000 bindings in 812 ms", "syncing from node 3: 4096 of 100000", "failed (...)". */
function formatSync(s: SyncView): string {
  const from = s.donor !== undefined ? ` from node ${s.donor}` : '';
  if (s.state === 'done') return s.donor === undefined ? `done (${s.reason ?? 'nothing to sync'})` : `done${from}: ${s.received} records in ${s.duration_ms} ms`;
  if (s.state === 'syncing') return `syncing${from}: ${s.received}${s.expected ? ` of ${s.expected}` : ''} records, attempt ${s.attempts}`;
  return `${s.state}${from}${s.reason ? `: ${s.reason}` : ''} (attempt ${s.attempts})`;
}

/** The parts of the cluster status (src/cluster/cluster.ts ClusterStatus) printed here. */
interface ClusterView {
  name: string;
  view: number;
  bus: { address: string; port: number };
  self: { id: number; name: string; state: string };
  frames_in: number;
  frames_out: number;
  drops: Record<string, number>;
  peers: Array<{
    id: number;
    name?: string;
    address: string;
    port: number;
    state: string;
    link: string;
    rtt_ms?: number;
    frames_in: number;
    frames_out: number;
    relayed: number;
    drops: Record<string, number>;
  }>;
}

const formatDrops = (d: Record<string, number> | undefined): string => {
  const parts = Object.entries(d ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`);
  return parts.length ? parts.join(' ') : 'none';
};

/** One line for the cluster, one per member (self first), in a fixed column order. */
export function formatCluster(c: ClusterView): string[] {
  const lines = [
    `  cluster ${c.name}: view ${c.view}, bus ${c.bus.address}:${c.bus.port}, frames in ${c.frames_in} out ${c.frames_out}, drops ${formatDrops(c.drops)}`,
    `    node ${c.self.id} ${c.self.name} (self): ${c.self.state}`,
  ];
  for (const p of c.peers) {
    const rtt = p.rtt_ms === undefined ? '-' : `${p.rtt_ms.toFixed(2)} ms`;
    lines.push(
      `    node ${p.id} ${p.name ?? '?'} ${p.address || '?'}:${p.port || '?'}: ${p.state}, link ${p.link}, rtt ${rtt}, ` +
        `frames in ${p.frames_in} out ${p.frames_out}${p.relayed ? ` relayed ${p.relayed}` : ''}, drops ${formatDrops(p.drops)}`,
    );
  }
  return lines;
}

/** The `drain` object of /status (src/node/drain.ts DrainStatus), as printed here. */
export interface DrainView {
  state: string;
  since?: string;
  draining_for_ms?: number;
  idle_ms?: number;
  grace_ms: number;
  drained_at?: string;
  left: { server_transactions: number; client_transactions: number };
  withdraw?: { command: string; ok: boolean; exit: number | null; ms: number; error?: string };
  announce?: { command: string; ok: boolean; exit: number | null; ms: number; error?: string };
}

/** What drain and undrain print, and status while draining: state, what is left, the route command. */
export function formatDrain(d: DrainView): string[] {
  const lines: string[] = [];
  const forS = d.draining_for_ms !== undefined ? ` for ${(d.draining_for_ms / 1000).toFixed(1)} s` : '';
  lines.push(`drain: ${d.state}${d.state === 'draining' || d.state === 'drained' ? forS : ''}, left: ${d.left.server_transactions} server, ${d.left.client_transactions} client transactions (dialogs are not tracked)`);
  const cmd = (what: string, c: DrainView['withdraw']) => {
    if (c) lines.push(`  ${what}: ${c.ok ? 'ok' : `FAILED (${c.error ?? `exit ${String(c.exit)}`})`} in ${c.ms} ms: ${c.command}`);
  };
  if (d.state === 'up' || d.state === 'joining') cmd('announce', d.announce);
  else cmd('withdraw', d.withdraw);
  return lines;
}
