// Digest authentication of one request (RFC 3261 22, RFC 7616, RFC 8760):
// challenge it, or check its credentials against the subscriber store and a
// nonce of ours. Which requests must authenticate is policy.ts's business.
//
// An unknown user and a wrong password take the same path, the same hashing
// and the same answer (403 "Authentication Failed"), so neither the answer nor
// its timing tells an attacker (svwar) which users exist.

import type { SipMessage } from '../sip/message.js';
import type { CredentialStore } from './credentials.js';
import { challengeValue, computeHa1, type DigestAlgorithm, type DigestCredentials, parseCredentials, responseMatches } from './digest.js';
import { NonceCounts, type NonceCodec } from './nonce.js';

export interface DigestSettings {
  /** Offered in this order, most preferred first (RFC 8760 4). */
  algorithms: DigestAlgorithm[];
  /** Seconds a nonce is accepted. */
  nonce_expires: number;
  /** Nonces whose counts are kept (replay protection) at most. */
  max_nonces: number;
}

export interface AuthCounters {
  auth_challenges: number;
  auth_ok: number;
  auth_failed: number;
  /** Credentials with a nonce we could not accept (expired, another node's, a restarted node's): challenged again, stale=true. */
  auth_stale: number;
  /** A nonce and nonce-count used before: refused. */
  auth_replays: number;
}

/** 401 for a registrar (WWW-Authenticate), 407 for a proxy (Proxy-Authenticate). */
export type AuthRole = 'registrar' | 'proxy';

export type AuthResult =
  | { kind: 'ok'; user: string; realm: string }
  | { kind: 'challenge'; status: 401 | 407; headers: Array<[string, string]> }
  | { kind: 'failed'; status: 403; reason: string; user: string };

const HEADERS = {
  registrar: { status: 401 as const, credentials: 'authorization', challenge: 'WWW-Authenticate' },
  proxy: { status: 407 as const, credentials: 'proxy-authorization', challenge: 'Proxy-Authenticate' },
};

/** What an unknown user's HA1 is checked against: the work is the same as for a real one. */
const DECOY = { MD5: computeHa1('MD5', 'decoy', 'decoy', 'decoy'), 'SHA-256': computeHa1('SHA-256', 'decoy', 'decoy', 'decoy') };

export class Authenticator {
  readonly counters: AuthCounters = { auth_challenges: 0, auth_ok: 0, auth_failed: 0, auth_stale: 0, auth_replays: 0 };
  private readonly counts: NonceCounts;

  constructor(
    private readonly settings: DigestSettings,
    private readonly store: CredentialStore,
    private readonly nonces: NonceCodec,
    private readonly now: () => number,
    /** A user locked out after failed authentications (abuse.ts): it fails whatever the password. */
    private readonly isLocked: (user: string) => boolean = () => false,
  ) {
    this.counts = new NonceCounts(settings.max_nonces);
  }

  /** Check `req` as `role` for `realm`: a challenge when it has no credentials for the realm, else the verdict on them. */
  authenticate(req: SipMessage, role: AuthRole, realm: string): AuthResult {
    const h = HEADERS[role];
    const creds = this.credentialsFor(req, h.credentials, realm);
    if (!creds) return this.challenge(role, realm, false);
    const c = creds;
    const known = this.store.ha1(c.username, realm, c.algorithm);
    const matches = responseMatches(known ?? DECOY[c.algorithm], req.method, c);
    if (!known || !matches || this.isLocked(`${c.username}@${realm}`)) return this.fail(`${c.username}@${realm}`);
    const nonce = this.nonces.check(c.nonce);
    if ('problem' in nonce) {
      if (nonce.problem === 'malformed' || nonce.problem === 'bad_mac') return this.challenge(role, realm, false);
      this.counters.auth_stale++;
      return this.challenge(role, realm, true);
    }
    const nc = c.qop === undefined ? 1 : parseInt(c.nc!, 16);
    if (!this.counts.use(c.nonce, nc, nonce.info.expiresAt, this.now())) {
      this.counters.auth_replays++;
      return this.challenge(role, realm, true);
    }
    this.counters.auth_ok++;
    return { kind: 'ok', user: c.username, realm };
  }

  /** Nonces with counts held now (replay protection state). */
  get noncesHeld(): number {
    return this.counts.size;
  }

  private challenge(role: AuthRole, realm: string, stale: boolean): AuthResult {
    this.counters.auth_challenges++;
    const h = HEADERS[role];
    const nonce = this.nonces.issue(this.settings.nonce_expires);
    // One challenge per algorithm, one nonce for all: the UA answers the first it supports.
    const headers = this.settings.algorithms.map((a): [string, string] => [h.challenge, challengeValue(a, realm, nonce, { stale })]);
    return { kind: 'challenge', status: h.status, headers };
  }

  private fail(user: string): AuthResult {
    this.counters.auth_failed++;
    return { kind: 'failed', status: 403, reason: 'Authentication Failed', user };
  }

  /** The Digest credentials for `realm` among the request's (a request may carry several, one per realm). */
  private credentialsFor(req: SipMessage, header: string, realm: string): DigestCredentials | undefined {
    for (const value of req.getAll(header)) {
      const parsed = parseCredentials(value);
      if ('credentials' in parsed && parsed.credentials.realm.toLowerCase() === realm.toLowerCase()) {
        if (this.settings.algorithms.includes(parsed.credentials.algorithm)) return parsed.credentials;
      }
    }
    return undefined;
  }
}
