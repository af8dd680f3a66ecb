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
}

export interface ProxyConfig {
  record_route: boolean;
  /** Max-Forwards we set on a request that has none. */
  max_forwards: number;
  /** Lower-cased. Empty = responsible for any domain. */
  domains: string[];
  /** Option tags accepted in Proxy-Require; anything else gets 420. */
  proxy_require_supported: string[];
}

export interface RegistrarConfig {
  enabled: boolean;
  default_expires: number;
  min_expires: number;
  max_expires: number;
  max_contacts: number;
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
}
