// Who may authenticate: a subscriber file (YAML), read at start and again on
// reload, behind an interface so a database or Redis backend can take its
// place. The file holds HA1 values (H(user:realm:password), per algorithm),
// so a stolen file does not give the passwords away; a plaintext password is
// accepted for a lab, turned into HA1s at load, and never kept.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { computeHa1, type DigestAlgorithm } from './digest.js';

/** The lookup the authenticator needs; a store answers from memory (it runs on the hot path). */
export interface CredentialStore {
  /** HA1 for `user` in `realm` with `algorithm`, in lowercase hex; undefined when there is none. */
  ha1(user: string, realm: string, algorithm: DigestAlgorithm): string | undefined;
  readonly size: number;
}

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${n}}$`), { message: `must be ${n} hex digits` });

const subscriberSchema = z
  .strictObject({
    user: z.string().min(1).regex(/^[^\s:@]+$/, { message: 'must have no spaces, colons or @' }),
    realm: z.string().min(1).regex(/^[^\s"]+$/, { message: 'must have no spaces or quotes' }),
    ha1_md5: hex(32).optional(),
    ha1_sha256: hex(64).optional(),
    password: z.string().min(1).optional(),
  })
  .refine((s) => s.ha1_md5 || s.ha1_sha256 || s.password, { message: 'needs ha1_md5, ha1_sha256 or password' });

const fileSchema = z.strictObject({ subscribers: z.array(subscriberSchema).default([]) });

/** A subscriber file, swapped whole on reload: a bad file leaves the old one in use. */
export class SubscriberFile implements CredentialStore {
  private table = new Map<string, { md5?: string; sha256?: string }>();

  constructor(readonly path: string) {
    this.table = SubscriberFile.read(path);
  }

  ha1(user: string, realm: string, algorithm: DigestAlgorithm): string | undefined {
    const e = this.table.get(key(user, realm));
    return algorithm === 'MD5' ? e?.md5 : e?.sha256;
  }

  get size(): number {
    return this.table.size;
  }

  /** Read the file again. Throws ConfigError (the old table stays) when it is not valid. */
  reload(): number {
    this.table = SubscriberFile.read(this.path);
    return this.table.size;
  }

  private static read(path: string): Map<string, { md5?: string; sha256?: string }> {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(path, '(file)', (err as Error).message);
    }
    const parsed = fileSchema.safeParse(raw ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ConfigError(path, issue.path.join('.') || '(top level)', issue.message);
    }
    const table = new Map<string, { md5?: string; sha256?: string }>();
    for (const [i, s] of parsed.data.subscribers.entries()) {
      const k = key(s.user, s.realm);
      if (table.has(k)) throw new ConfigError(path, `subscribers.${i}`, `${s.user}@${s.realm} is listed twice`);
      const md5 = s.ha1_md5?.toLowerCase() ?? (s.password ? computeHa1('MD5', s.user, s.realm, s.password) : undefined);
      const sha256 = s.ha1_sha256?.toLowerCase() ?? (s.password ? computeHa1('SHA-256', s.user, s.realm, s.password) : undefined);
      table.set(k, { ...(md5 ? { md5 } : {}), ...(sha256 ? { sha256 } : {}) });
    }
    return table;
  }
}

/** Users compare exactly (RFC 3261 says the username is case-sensitive); realms without case. */
function key(user: string, realm: string): string {
  return user + '\n' + realm.toLowerCase();
}
