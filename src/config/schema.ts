// The zod schema of the YAML config: types, ranges and defaults per key.
// Checks that span several keys (unique ids, references, orderings) live in
// crossCheck() below so each can name the exact key at fault.

import { createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Config } from './types.js';

/** A problem found while validating, before it is tied to a file. */
export interface Problem {
  path: (string | number)[];
  message: string;
}

let processSecret: string | undefined;
/**
 * One random secret per process, for a single node only: every node of a
 * single-process simulation shares it. A cluster never uses it (see
 * branchSecretFor): each node's secret must verify the others' branches.
 */
function processBranchSecret(): string {
  processSecret ??= randomBytes(32).toString('hex');
  return processSecret;
}

/**
 * node.branch_secret when set; in a cluster, derived from cluster.secret
 * (domain-separated from the bus key), so every node of a cluster checks the
 * others' Via branches without a second shared value; a single node: random.
 */
export function branchSecretFor(own: string | undefined, clusterSecret: string | undefined): string {
  if (own !== undefined) return own;
  if (clusterSecret !== undefined) return createHmac('sha256', clusterSecret).update('anysip branch v1').digest('hex');
  return processBranchSecret();
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;
const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/; // RFC 3261 token, the grammar of option tags

export const isIpLiteral = (s: string): boolean => isIP(s) !== 0;
export const isHost = (s: string): boolean => isIpLiteral(s) || HOSTNAME.test(s);

/**
 * Basic sip:/sips: URI check: scheme, optional userinfo, a host, optional port,
 * then params/headers. Not the full grammar (that is src/sip's job at run time),
 * enough to catch typos at load time.
 */
export function checkSipUri(s: string): string | undefined {
  const m = /^(sips?):(?:([^@\s]+)@)?(\[[^\]\s]+\]|[^:;?\s[\]@]+)(?::([^;?\s]*))?([;?]\S*)?$/i.exec(s);
  if (!m) return 'not a sip: or sips: URI (expected sip:[user@]host[:port][;params])';
  const host = m[3]!;
  if (host.startsWith('[')) {
    if (isIP(host.slice(1, -1)) !== 6) return `bad IPv6 host ${host}`;
  } else if (!isHost(host)) {
    return `bad host "${host}"`;
  }
  if (m[4] !== undefined) {
    const port = /^\d{1,5}$/.test(m[4]) ? Number(m[4]) : NaN;
    if (!(port >= 1 && port <= 65535)) return `bad port "${m[4]}" (1..65535)`;
  }
  return undefined;
}

const port = (min: number) => z.int().min(min).max(65535);
const ms = z.int().min(1);
const ipLiteral = z.string().refine(isIpLiteral, { message: 'must be an IPv4 or IPv6 address literal (no brackets, no hostname)' });
const host = z.string().refine(isHost, { message: 'must be a hostname or an IP address literal' });
const domain = z
  .string()
  .refine((s) => HOSTNAME.test(s) || isIpLiteral(s), { message: 'must be a domain name or an IP address literal' })
  .transform((s) => s.toLowerCase());

const nodeSchema = z
  .strictObject({
    id: z.int().min(1).max(65535),
    name: z.string().min(1).optional(),
    branch_secret: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  })
  .transform((n) => ({
    id: n.id,
    name: n.name ?? `anysip-${n.id}`,
    branch_secret: n.branch_secret,
  }));

const listenSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9_.:-]+$/, { message: 'must be letters, digits and _ . : - only' }).optional(),
    transport: z.enum(['udp', 'tcp', 'ws']),
    address: ipLiteral,
    port: port(0),
    role: z.enum(['anycast', 'unicast']).default('anycast'),
    advertise: host.optional(),
  })
  .transform((l) => ({ ...l, id: l.id ?? `${l.transport}-${l.address}-${l.port}` }));

const timersSchema = z.strictObject({
  t1: ms.default(500),
  t2: ms.default(4000),
  t4: ms.default(5000),
  // RFC 3261 16.6 wants > 3 minutes; shorter is allowed for tests and labs.
  timer_c: ms.default(180_000),
});

const transportSchema = z
  .strictObject({
    tcp_idle_timeout: z.int().min(1).default(120),
    max_message_size: z.int().min(1024).max(16 * 1024 * 1024).default(65535),
    // Seconds a TCP/WS message may take to arrive whole once its first byte came; 0 disables.
    message_deadline: z.number().min(0).max(3600).default(10),
    // Absent: derived from the soft RLIMIT_NOFILE (src/transport/limits.ts).
    max_connections: z.int().min(1).optional(),
    max_connections_per_source: z.int().min(1).optional(),
    max_send_queue: z.int().min(1024).max(1024 * 1024 * 1024).default(262144),
    // Seconds a peer may leave its connection undrained; 0 disables.
    send_stall_timeout: z.number().min(0).max(3600).default(30),
  })
  .refine((t) => t.max_send_queue >= t.max_message_size, {
    path: ['max_send_queue'],
    message: 'must be at least max_message_size (one whole message must fit)',
  });

const proxySchema = z.strictObject({
  record_route: z.boolean().default(true),
  record_route_address: z.enum(['socket', 'anycast']).default('socket'),
  add_path: z.enum(['outbound', 'always', 'never']).default('outbound'),
  max_forwards: z.int().min(1).max(255).default(70),
  domains: z.array(domain).default([]),
  proxy_require_supported: z.array(z.string().regex(TOKEN, { message: 'must be an option tag (a SIP token)' })).default([]),
  // RFC 3261 18.1.1: bytes above which a request bound for UDP goes over TCP when it may; 0 = off.
  udp_mtu_threshold: z.int().min(0).max(65535).default(1300),
});

const registrarSchema = z.strictObject({
  enabled: z.boolean().default(true),
  default_expires: z.int().min(1).default(3600),
  min_expires: z.int().min(1).default(60),
  max_expires: z.int().min(1).default(7200),
  max_contacts: z.int().min(1).default(10),
  max_clock_skew: z.number().min(0).max(60).default(2),
  keepalive_interval: z.int().min(0).max(3600).default(0),
  keepalive_method: z.enum(['crlf', 'options']).default('crlf'),
  keepalive_nated_only: z.boolean().default(true),
  flow_timer: z.int().min(0).max(3600).default(0),
});

const routeSchema = z.strictObject({
  match: z
    .strictObject({
      domain: z
        .string()
        .refine((s) => s === '*' || HOSTNAME.test(s) || isIpLiteral(s), { message: 'must be a domain name, an IP address literal or "*"' })
        .transform((s) => s.toLowerCase())
        .optional(),
      user_prefix: z.string().regex(/^\S+$/, { message: 'must be non-empty, without spaces' }).optional(),
    })
    .default({}),
  targets: z
    .array(
      z.string().check((ctx) => {
        const problem = checkSipUri(ctx.value);
        if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
      }),
    )
    .min(1, { message: 'must list at least one target' }),
  strategy: z.enum(['parallel', 'serial']).default('parallel'),
  socket: z.string().optional(),
});

const adminSchema = z.strictObject({
  address: ipLiteral.default('127.0.0.1'),
  port: port(0).default(8060),
  enabled: z.boolean().default(true),
});

const logSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  // One info line with what changed (src/node/summary.ts); 0: none.
  summary_interval: z.int().min(0).max(86_400).default(300),
});

const busEndpoint = z.strictObject({
  address: ipLiteral,
  port: port(0),
});

const clusterSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'must be 1..64 letters, digits and _ . - only' }).default('anysip'),
  secret: z.string().min(16, { message: 'must be at least 16 characters' }),
  bus: busEndpoint,
  peers: z.array(z.strictObject({ id: z.int().min(1).max(65535), address: ipLiteral, port: port(1) })).default([]),
  heartbeat_interval: z.int().min(10).max(60_000).default(200),
  failure_timeout: z.int().min(30).max(600_000).default(800),
  rejoin_after: z.int().min(0).max(600_000).default(600),
  max_frame_size: z.int().min(4096).max(64 * 1024 * 1024).default(1024 * 1024),
  send_queue_limit: z.int().min(65536).max(1024 * 1024 * 1024).default(4 * 1024 * 1024),
  reconnect_min: z.int().min(10).max(60_000).default(100),
  reconnect_max: z.int().min(10).max(600_000).default(5000),
});

const anycastSchema = z.strictObject({
  mode: z.enum(['hash', 'receiver']).default('hash'),
  // Covers the longest a transaction can wait for a CANCEL or an ACK with default timers: timer C + 64*T1.
  second_chance: z.int().min(0).max(3_600_000).default(212_000),
  query_timeout: z.int().min(1).max(10_000).default(50),
});

// Who may use the node (src/auth/README.md).
const cidr = z.string().refine(
  (s) => {
    const [address = '', bits, ...rest] = s.split('/');
    if (rest.length || !isIpLiteral(address)) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d+$/.test(bits) && n <= (address.includes(':') ? 128 : 32);
  },
  { message: 'must be an IP address or CIDR (10.0.0.0/8, 2001:db8::/32)' },
);

const authSchema = z.strictObject({
  subscribers: z.string().min(1).optional(),
  realm: z.string().regex(/^[^\s"\\]+$/, { message: 'must have no spaces, quotes or backslashes' }).optional(),
  algorithms: z.array(z.enum(['SHA-256', 'MD5'])).min(1).default(['MD5', 'SHA-256']),
  nonce_expires: z.int().min(10).max(3600).default(300),
  max_nonces: z.int().min(100).max(10_000_000).default(100_000),
  register: z.boolean().default(true),
  local_users: z.boolean().default(true),
  trusted: z.array(cidr).default([]),
  open_relay: z.boolean().default(false),
  rate_limit: z
    .strictObject({
      requests: z.int().min(0).max(1_000_000).default(200),
      window: z.int().min(1).max(3600).default(2),
      ban: z.int().min(1).max(7 * 24 * 3600).default(300),
    })
    .prefault({}),
  failures: z
    .strictObject({
      limit: z.int().min(0).max(1_000_000).default(10),
      window: z.int().min(1).max(24 * 3600).default(600),
      ban: z.int().min(1).max(7 * 24 * 3600).default(900),
    })
    .prefault({}),
});

// Drain (src/node/drain.ts): how the node stops and resumes announcing the anycast route.
const drainSchema = z.strictObject({
  withdraw_command: z.string().min(1).optional(),
  announce_command: z.string().min(1).optional(),
  grace: z.int().min(0).max(3_600_000).default(2000),
  command_timeout: z.int().min(1).max(600_000).default(10_000),
});

// prefault({}) (not default) so an absent section still gets its inner defaults.
export const configSchema = z.strictObject({
  node: nodeSchema,
  listen: z.array(listenSchema).min(1, { message: 'must list at least one socket' }),
  timers: timersSchema.prefault({}),
  transport: transportSchema.prefault({}),
  proxy: proxySchema.prefault({}),
  registrar: registrarSchema.prefault({}),
  routes: z.array(routeSchema).default([]),
  route_hook: z.string().min(1).optional(),
  admin: adminSchema.prefault({}),
  log: logSchema.prefault({}),
  cluster: clusterSchema.optional(),
  anycast: anycastSchema.prefault({}),
  drain: drainSchema.prefault({}),
  auth: authSchema.prefault({}),
})
  .transform((c) => ({ ...c, node: { ...c.node, branch_secret: branchSecretFor(c.node.branch_secret, c.cluster?.secret) } }));

// Compile-time guard: the hand-written Config (readable in editors) and the
// schema's output must not drift apart.
type SchemaOutput = z.output<typeof configSchema>;
const _sameShape: [SchemaOutput extends Config ? true : false, Config extends SchemaOutput ? true : false] = [true, true];
void _sameShape;

/** Checks across keys. Runs only on a config that passed the schema. */
export function crossCheck(c: Config): Problem[] {
  const out: Problem[] = [];

  const ids = new Map<string, number>();
  // tcp and ws share the kernel's TCP port space, so they collide with each other.
  const binds = new Map<string, number>();
  c.listen.forEach((l, i) => {
    const prev = ids.get(l.id);
    if (prev !== undefined) out.push({ path: ['listen', i, 'id'], message: `duplicate id "${l.id}" (also listen[${prev}])` });
    else ids.set(l.id, i);
    if (l.port === 0) return; // ephemeral ports never collide
    const proto = l.transport === 'udp' ? 'udp' : 'tcp';
    const key = `${proto} ${l.address} ${l.port}`;
    const other = binds.get(key);
    if (other !== undefined) {
      out.push({ path: ['listen', i], message: `${l.transport} ${l.address}:${l.port} is already bound by listen[${other}]` });
    } else binds.set(key, i);
  });

  if (c.admin.enabled && c.admin.port !== 0) {
    const other = binds.get(`tcp ${c.admin.address} ${c.admin.port}`);
    if (other !== undefined) out.push({ path: ['admin', 'port'], message: `${c.admin.address}:${c.admin.port} is also bound by listen[${other}]` });
  }

  if (c.timers.t1 > c.timers.t2) out.push({ path: ['timers', 't1'], message: `must be <= timers.t2 (${c.timers.t1} > ${c.timers.t2})` });

  const r = c.registrar;
  if (r.min_expires > r.default_expires) {
    out.push({ path: ['registrar', 'min_expires'], message: `must be <= registrar.default_expires (${r.min_expires} > ${r.default_expires})` });
  }
  if (r.default_expires > r.max_expires) {
    out.push({ path: ['registrar', 'default_expires'], message: `must be <= registrar.max_expires (${r.default_expires} > ${r.max_expires})` });
  }

  if (c.cluster) out.push(...crossCheckCluster(c, binds));

  // A node on a public address with nobody to authenticate is an open relay within hours.
  const a = c.auth;
  if (!a.subscribers && a.trusted.length === 0 && !a.open_relay) {
    const exposed = c.listen.findIndex((l) => !isLoopback(l.address));
    if (exposed >= 0) {
      out.push({
        path: ['listen', exposed, 'address'],
        message:
          `${c.listen[exposed]!.address} is not a loopback address and nothing says who may use the node: ` +
          'set auth.subscribers (a subscriber file), auth.trusted (peers by address), or auth.open_relay: true',
      });
    }
  }

  c.routes.forEach((route, i) => {
    if (route.socket !== undefined && !ids.has(route.socket)) {
      const known = [...ids.keys()].map((k) => `"${k}"`).join(', ');
      out.push({ path: ['routes', i, 'socket'], message: `no listen socket with id "${route.socket}" (known: ${known})` });
    }
  });
  return out;
}

function isLoopback(address: string): boolean {
  return address === '::1' || /^127\./.test(address);
}

function crossCheckCluster(c: Config, binds: Map<string, number>): Problem[] {
  const out: Problem[] = [];
  const k = c.cluster!;
  if (k.bus.port !== 0) {
    const other = binds.get(`tcp ${k.bus.address} ${k.bus.port}`);
    if (other !== undefined) out.push({ path: ['cluster', 'bus', 'port'], message: `${k.bus.address}:${k.bus.port} is also bound by listen[${other}]` });
    if (c.admin.enabled && c.admin.address === k.bus.address && c.admin.port === k.bus.port) {
      out.push({ path: ['cluster', 'bus', 'port'], message: `${k.bus.address}:${k.bus.port} is also the admin port` });
    }
  }
  const ids = new Map<number, number>();
  const addrs = new Map<string, number>();
  k.peers.forEach((p, i) => {
    const prev = ids.get(p.id);
    if (prev !== undefined) out.push({ path: ['cluster', 'peers', i, 'id'], message: `duplicate peer id ${p.id} (also cluster.peers[${prev}])` });
    else ids.set(p.id, i);
    const key = `${p.address}:${p.port}`;
    const same = addrs.get(key);
    if (same !== undefined) out.push({ path: ['cluster', 'peers', i, 'port'], message: `${key} is also cluster.peers[${same}]` });
    else addrs.set(key, i);
    const self = p.address === k.bus.address && p.port === k.bus.port;
    if (self && p.id !== c.node.id) {
      out.push({ path: ['cluster', 'peers', i, 'id'], message: `${key} is this node's own bus address but id ${p.id} is not node.id (${c.node.id})` });
    }
  });
  if (k.failure_timeout < 2 * k.heartbeat_interval) {
    out.push({
      path: ['cluster', 'failure_timeout'],
      message: `must be >= 2 x cluster.heartbeat_interval (${k.failure_timeout} < 2 x ${k.heartbeat_interval})`,
    });
  }
  if (k.reconnect_min > k.reconnect_max) {
    out.push({ path: ['cluster', 'reconnect_min'], message: `must be <= cluster.reconnect_max (${k.reconnect_min} > ${k.reconnect_max})` });
  }
  return out;
}

type ZodDef = { type: string; shape?: Record<string, unknown>; element?: unknown; innerType?: unknown; in?: unknown };

/** Strips defaults, optionals and transform pipes down to the object or array beneath. */
function unwrap(s: unknown): ZodDef | undefined {
  for (let def = (s as { _zod?: { def?: ZodDef } })?._zod?.def; def; ) {
    if (def.type === 'object' || def.type === 'array') return def;
    const inner = def.innerType ?? def.in;
    def = (inner as { _zod?: { def?: ZodDef } } | undefined)?._zod?.def;
  }
  return undefined;
}

/** The keys the mapping at `path` accepts, for "did you mean" hints. */
export function knownKeysAt(path: readonly (string | number)[]): string[] {
  let s: unknown = configSchema;
  for (const seg of path) {
    const def = unwrap(s);
    if (typeof seg === 'number') s = def?.type === 'array' ? def.element : undefined;
    else s = def?.type === 'object' ? def.shape?.[seg] : undefined;
    if (!s) return [];
  }
  const def = unwrap(s);
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}
