// Who may use the cluster (what Kamailio's default script does with
// `auth`, `permissions` and its "not relaying" check):
// - a trusted peer (a gateway, a media server, by address or CIDR) may do anything;
// - a request inside a dialog we record-routed follows its route;
// - a REGISTER for one of our domains authenticates (401); with no subscribers (trusted peers
//   only), only a trusted peer may register;
// - an initial request from one of our users (its From is our domain) authenticates (407);
// - a request that would leave our domains (a foreign domain or IP literal, or
//   a pre-loaded Route to a foreign host) is relayed only for an
//   authenticated local user or a trusted peer: anyone else gets 403, so the
//   node is never an open relay.
// Calls from outside to our users need no credentials: that is how they reach us.

import { BlockList, isIP } from 'node:net';
import type { SipMessage } from '../sip/message.js';
import type { AuthResult, Authenticator } from './authenticator.js';

export interface PolicySettings {
  /** The realm of every challenge; undefined: the domain of the AOR (REGISTER) or of the From URI. */
  realm?: string;
  register: boolean;
  local_users: boolean;
  /** Addresses and CIDRs that skip authentication. */
  trusted: string[];
  /** auth.open_relay: relay for anyone (users still authenticate). */
  relay_open: boolean;
}

/** What the proxy knows about the request, after its own Route entries were taken off. */
export interface RequestFacts {
  /** The Request-URI is one of our domains (or our own address). */
  ruriLocal: boolean;
  /** The From URI is one of our domains: the sender claims to be one of our users. */
  fromLocal: boolean;
  fromHost: string;
  toHost: string;
  /** It came along a Route of ours (our Record-Route of a dialog, a Path we added). */
  followsOurRoute: boolean;
  /** A Route remains after ours: it is headed for another host. */
  foreignRoute: boolean;
}

export type Verdict = { kind: 'pass'; user?: string; trusted?: boolean } | Exclude<AuthResult, { kind: 'ok' }> | { kind: 'refused'; status: 403; reason: string };

export interface PolicyCounters {
  relay_refused: number;
  trusted_requests: number;
}

export class AccessPolicy {
  readonly counters: PolicyCounters = { relay_refused: 0, trusted_requests: 0 };
  private readonly trusted = new BlockList();

  constructor(
    private readonly settings: PolicySettings,
    private readonly auth: Authenticator | undefined,
    /** A failed authentication by `source` as `user@realm` (abuse.ts counts them). */
    private readonly onFailure: (source: string, user: string) => void = () => {},
  ) {
    for (const entry of settings.trusted) addTrusted(this.trusted, entry);
  }

  isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  decide(req: SipMessage, source: string, f: RequestFacts): Verdict {
    if (this.isTrusted(source)) {
      this.counters.trusted_requests++;
      return { kind: 'pass', trusted: true };
    }
    if (f.followsOurRoute && req.toTag !== undefined) return { kind: 'pass' };
    let user: string | undefined;
    if (!this.auth && req.method === 'REGISTER' && f.ruriLocal && this.settings.register && !this.settings.relay_open) {
      // Trusted peers only, no subscribers: nobody else can prove who they are, so nobody else registers.
      this.counters.relay_refused++;
      return { kind: 'refused', status: 403, reason: 'Registration Needs A Subscriber' };
    }
    // A REGISTER for our domain answers to the registrar (401), an initial request from our user to the proxy (407).
    const role =
      req.method === 'REGISTER' && f.ruriLocal && this.settings.register
        ? ('registrar' as const)
        : f.fromLocal && this.settings.local_users && req.toTag === undefined
          ? ('proxy' as const)
          : undefined;
    if (this.auth && role) {
      const r = this.auth.authenticate(req, role, this.settings.realm ?? (role === 'registrar' ? f.toHost : f.fromHost));
      if (r.kind === 'failed') this.onFailure(source, r.user);
      if (r.kind !== 'ok') return r;
      user = `${r.user}@${r.realm}`;
    }
    const leaves = !f.ruriLocal || f.foreignRoute;
    if (leaves && user === undefined && !this.settings.relay_open && !(f.followsOurRoute && !f.foreignRoute)) {
      this.counters.relay_refused++;
      return { kind: 'refused', status: 403, reason: 'Relaying Forbidden' };
    }
    return user === undefined ? { kind: 'pass' } : { kind: 'pass', user };
  }
}

/** An address or CIDR (`10.0.0.0/8`, `2001:db8::/32`); throws on anything else (the config checks first). */
export function addTrusted(list: BlockList, entry: string): void {
  const [address = '', bits] = entry.split('/');
  const family = isIP(address);
  if (family === 0) throw new Error(`${entry} is not an address or CIDR`);
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(address, type);
  else list.addSubnet(address, Number(bits), type);
}
