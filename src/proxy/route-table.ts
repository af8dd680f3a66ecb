// The static route table from config: first match wins.

import type { SipUri } from '../sip/types.js';

export interface RouteEntry {
  match?: { domain?: string; user_prefix?: string };
  targets: string[];
  strategy?: 'parallel' | 'serial';
  socket?: string;
}

export function matchRoute(routes: readonly RouteEntry[], ruri: SipUri): RouteEntry | undefined {
  const host = ruri.host.toLowerCase();
  const user = ruri.user ?? '';
  for (const r of routes) {
    const domain = r.match?.domain;
    if (domain !== undefined && domain !== '*' && domain.toLowerCase() !== host) continue;
    const prefix = r.match?.user_prefix;
    if (prefix !== undefined && !user.startsWith(prefix)) continue;
    return r;
  }
  return undefined;
}
