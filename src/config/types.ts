// The validated configuration as the rest of anysip sees it. Keys are the YAML
// keys (snake_case), so a key in a log line or an error can be grepped in both.
// Every default is already applied: nothing downstream re-implements one.
// src/config/README.md documents each key.

import type { SocketRole, TransportName } from '../transport/types.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface NodeConfig {
  /** 1..65535, unique in the cluster; encoded in every Via branch we create. */
  id: number;
  /** For logs and /status. Default `anysip-<id>`. */
  name: string;
  /** Key of the branch MAC. Default: random per process (fine for a single node only). */
  branch_secret: string;
}

export interface ListenConfig {
  /** Default `<transport>-<address>-<port>`. */
  id: string;
  transport: TransportName;
  /** IPv4 or IPv6 literal, no brackets. */
  address: string;
  /** 0 = ephemeral (tests). */
  port: number;
  role: SocketRole;
  /** Host written in Via / Record-Route instead of `address`. */
  advertise?: string;
}

/** RFC 3261 timers, milliseconds. */
export interface TimersConfig {
  t1: number;
  t2: number;
  t4: number;
  timer_c: number;
}

export interface TransportConfig {
  /** Seconds a TCP/WS connection may stay idle before we close it. */
  tcp_idle_timeout: number;
  /** Bytes; larger messages are rejected (513) or dropped. */
  max_message_size: number;
  /** Seconds a TCP/WS message may take to arrive whole once its first byte arrived; 0 disables. */
  message_deadline: number;
  /** Inbound TCP+WS connections in total; absent: the soft RLIMIT_NOFILE less a reserve. */
  max_connections?: number;
  /** Inbound TCP+WS connections per source IP; absent: a tenth of max_connections (at least 16). */
  max_connections_per_source?: number;
  /** Bytes one TCP/WS connection may queue in user space before it is closed; >= max_message_size. */
  max_send_queue: number;
  /** Seconds a peer may leave its TCP/WS connection undrained before it is closed; 0 disables. */
  send_stall_timeout: number;
}

export interface ProxyConfig {
  record_route: boolean;
  /**
   * `socket`: each Record-Route entry names the socket's own address. `anycast`: entries for a
   * unicast socket name the anycast address (with `;s=<socket id>`), so a dialog survives the
   * death of the node that set it up; the core must then reach the anycast address.
   */
  record_route_address: 'socket' | 'anycast';
  /** Path (RFC 3327) with a flow token on REGISTERs relayed to another registrar: RFC 5626 outbound ones, all, or none. */
  add_path: 'outbound' | 'always' | 'never';
  /** Max-Forwards we set on a request that has none. */
  max_forwards: number;
  /** Lower-cased. Empty = responsible for any domain. */
  domains: string[];
  /** Option tags accepted in Proxy-Require; anything else gets 420. */
  proxy_require_supported: string[];
  /**
   * RFC 3261 18.1.1: a request over this many bytes that would go over UDP goes over TCP when the
   * next hop allows it (no `transport=udp` in its URI, a TCP socket on that side). 0 turns it off.
   */
  udp_mtu_threshold: number;
}

export interface RegistrarConfig {
  enabled: boolean;
  default_expires: number;
  min_expires: number;
  max_expires: number;
  max_contacts: number;
  /** Seconds of clock skew allowed between nodes (how long past max_expires a removal is remembered). */
  max_clock_skew: number;
  /** Seconds between NAT keep-alives to a binding; 0: none. */
  keepalive_interval: number;
  /** What a keep-alive is: CRLF CRLF (RFC 5626 3.5.1), or an OPTIONS request the phone answers (nathelper's sipping). */
  keepalive_method: 'crlf' | 'options';
  /** Keep-alives only to bindings reached through a flow (RFC 5626, TCP/WS connection). */
  keepalive_nated_only: boolean;
  /** RFC 5626 Flow-Timer sent in the 2xx to an outbound REGISTER (keep-alive seconds the UA should use); 0: none. */
  flow_timer: number;
}

export interface RouteMatch {
  /** Lower-cased; `*` (or absent) matches any domain. */
  domain?: string;
  user_prefix?: string;
}

export type RouteStrategy = 'parallel' | 'serial';

export interface RouteConfig {
  /** `{}` when the YAML has no `match`: matches every request. */
  match: RouteMatch;
  /** sip:/sips: URIs, at least one. */
  targets: string[];
  strategy: RouteStrategy;
  /** A listen id to send from. */
  socket?: string;
}

export interface AdminConfig {
  address: string;
  port: number;
  enabled: boolean;
}

export interface LogConfig {
  level: LogLevel;
  summary_interval: number;
}

export interface ClusterPeerConfig {
  id: number;
  address: string;
  port: number;
}

/** The cluster bus and membership (src/bin-proto, src/cluster). Absent: a single node, no bus. */
export interface ClusterConfig {
  /** Hellos from another cluster name are refused. Default `anysip`. */
  name: string;
  /** Shared by every node; the bus HMAC key is derived from it. >= 16 chars. */
  secret: string;
  /** This node's unicast bus listener. */
  bus: { address: string; port: number };
  /** Other nodes' bus endpoints; a seed list is enough (the rest is learned). Self may be listed. */
  peers: ClusterPeerConfig[];
  /** Milliseconds between heartbeats on a link that carries nothing else. */
  heartbeat_interval: number;
  /** Milliseconds of silence after which a peer is `down`. */
  failure_timeout: number;
  /** Milliseconds a peer that went down must be heard without a gap before it counts again. */
  rejoin_after: number;
  /** Largest frame, bytes; a longer length prefix closes the connection. */
  max_frame_size: number;
  /** Bytes a link may hold unsent before frames are dropped. */
  send_queue_limit: number;
  /** Reconnect backoff, milliseconds: first delay and cap. */
  reconnect_min: number;
  reconnect_max: number;
}

/** The anycast gate (src/anycast/README.md). Used only when the node runs in a cluster. */
export interface AnycastConfig {
  /** `hash`: the rendezvous owner of the Call-ID handles every request; `receiver`: the receiving node does, strays are looked up. */
  mode: 'hash' | 'receiver';
  /** Milliseconds the owners of a replaced membership view are still asked about keys that moved (second chance). */
  second_chance: number;
  /** Milliseconds to wait for answers to an ownership query. */
  query_timeout: number;
}

/** Drain and undrain (src/node/drain.ts): the commands that withdraw and announce this node's anycast route. */
export interface DrainConfig {
  /** Shell command run (sh -c) when the node starts draining, e.g. stop announcing the anycast /32. Absent: none. */
  withdraw_command?: string;
  /** Shell command run when the node is undrained, e.g. announce the anycast /32 again. Absent: none. */
  announce_command?: string;
  /** Milliseconds the node must have been draining, and held no transaction, before it is `drained`. */
  grace: number;
  /** Milliseconds a withdraw or announce command may run before it is killed (counted as failed). */
  command_timeout: number;
}

/** Who may use the node (src/auth/README.md). */
export interface AuthConfig {
  /** Subscriber file (absolute, resolved against the config file's folder). Unset: no digest users. */
  subscribers?: string;
  /** Realm of every challenge; unset: the AOR's domain (REGISTER) or the From domain. */
  realm?: string;
  /** Offered most preferred first (RFC 8760). */
  algorithms: Array<'SHA-256' | 'MD5'>;
  /** Seconds a nonce is accepted. */
  nonce_expires: number;
  /** Nonces whose nonce-counts are kept (replay protection) at most. */
  max_nonces: number;
  /** REGISTERs for our domains authenticate (401). */
  register: boolean;
  /** Initial requests from our users (From in our domain) authenticate (407). */
  local_users: boolean;
  /** Addresses and CIDRs that skip authentication (gateways, media servers). */
  trusted: string[];
  /** Relay for anyone, and allow a non-loopback node without authentication. */
  open_relay: boolean;
  /** Requests per source per window (seconds) before the source is banned for `ban` seconds, cluster-wide; 0: none. */
  rate_limit: { requests: number; window: number; ban: number };
  /** Failed authentications per source (banned) and per user (locked out) per window, cluster-wide; 0: none. */
  failures: { limit: number; window: number; ban: number };
}

export interface Config {
  node: NodeConfig;
  listen: ListenConfig[];
  timers: TimersConfig;
  transport: TransportConfig;
  proxy: ProxyConfig;
  registrar: RegistrarConfig;
  routes: RouteConfig[];
  /** Absolute path (resolved against the config file's folder), checked to exist. */
  route_hook?: string;
  admin: AdminConfig;
  log: LogConfig;
  cluster?: ClusterConfig;
  anycast: AnycastConfig;
  drain: DrainConfig;
  auth: AuthConfig;
}
