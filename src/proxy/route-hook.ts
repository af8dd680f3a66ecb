// The user route hook: a JS/TS module named in config whose default export
// sees each initial request and may decide its targets or answer it.

import { pathToFileURL } from 'node:url';
import { RouteHookError } from '../core/errors.js';
import { headerKey } from '../sip/header-names.js';
import type { SipMessage } from '../sip/message.js';
import type { Envelope } from '../transport/types.js';

/** What the hook sees. `message` is the live request: read it, do not change it. */
export interface RouteRequest {
  method: string;
  uri: string;
  callId: string;
  from: string;
  to: string;
  /** First value of a header by name (case-insensitive, compact forms accepted). */
  header(name: string): string | undefined;
  source: { transport: string; address: string; port: number; socketId: string };
  /** `user@realm` that authenticated this request with digest (src/auth), when one did. */
  authenticated?: string;
  message: SipMessage;
}

export type RouteDecision =
  | { targets: string[]; strategy?: 'parallel' | 'serial'; socket?: string }
  | { status: number; reason?: string };

export type RouteHook = (req: RouteRequest) => RouteDecision | undefined | Promise<RouteDecision | undefined>;

export async function loadRouteHook(path: string): Promise<RouteHook> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new RouteHookError(`cannot load route hook ${path}: ${(err as Error).message}`);
  }
  const fn = mod.default ?? mod.route;
  if (typeof fn !== 'function') {
    throw new RouteHookError(`route hook ${path} must export a default function (or one named "route")`);
  }
  return fn as RouteHook;
}

/** Check a hook's answer so that a buggy hook yields a clear 500, not a crash. */
export function checkDecision(d: unknown): RouteDecision | undefined {
  if (d === undefined || d === null) return undefined;
  if (typeof d !== 'object') throw new RouteHookError(`route hook returned ${typeof d}`);
  const o = d as Record<string, unknown>;
  if (Array.isArray(o.targets)) {
    if (!o.targets.every((t) => typeof t === 'string')) throw new RouteHookError('route hook targets must be URI strings');
    if (o.strategy !== undefined && o.strategy !== 'parallel' && o.strategy !== 'serial') {
      throw new RouteHookError(`route hook strategy must be parallel or serial, not ${String(o.strategy)}`);
    }
    return o as RouteDecision;
  }
  if (typeof o.status === 'number' && Number.isInteger(o.status) && o.status >= 300 && o.status <= 699) {
    return o as RouteDecision;
  }
  throw new RouteHookError('route hook must return { targets: [...] } or { status: 300..699 }');
}

export function routeRequest(msg: SipMessage, env: Envelope, authenticated?: string): RouteRequest {
  return {
    method: msg.method,
    uri: msg.uri,
    callId: msg.callId,
    from: msg.get('from') ?? '',
    to: msg.get('to') ?? '',
    header: (name: string) => msg.get(headerKey(name)),
    source: { transport: env.transport, address: env.remote.address, port: env.remote.port, socketId: env.socketId },
    ...(authenticated !== undefined ? { authenticated } : {}),
    message: msg,
  };
}
