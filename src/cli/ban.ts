// `anysip ban list | add SOURCE [--seconds N] [--reason TEXT] | remove SOURCE`:
// the cluster-wide bans of src/auth, through the node's admin endpoint. A ban
// made on one node holds on every node (it is a replicated record).

import { call } from './drain.js';
import { adminEndpoint } from './status.js';

export interface BanOptions {
  config?: string;
  admin?: string;
  json?: boolean;
  seconds?: string;
  reason?: string;
}

interface Ban {
  source: string;
  reason: string;
  until: string;
  by: number;
}

/** Exit codes: 0 done, 1 the endpoint is unreachable or refused, 2 bad arguments, 3 `remove` of a source that was not banned. */
export async function runBan(what: 'list' | 'add' | 'remove', source: string | undefined, opts: BanOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const endpoint = opts.admin ?? adminEndpoint(opts.config);
  if (what !== 'list' && !source) {
    err.write(`anysip ban ${what}: name the source address\n`);
    return 2;
  }
  try {
    let bans: Ban[];
    let removed = true;
    if (what === 'list') {
      const status = await call(endpoint, 'GET', '/status');
      const auth = status.auth as { bans?: Ban[] } | undefined;
      if (!auth) {
        err.write(`anysip ban list: the node at ${endpoint} has no auth section (no auth configured)\n`);
        return 1;
      }
      bans = auth.bans ?? [];
    } else {
      const q = new URLSearchParams({ source: source! });
      if (what === 'add' && opts.seconds) q.set('seconds', opts.seconds);
      if (what === 'add' && opts.reason) q.set('reason', opts.reason);
      const body = await call(endpoint, 'POST', `/${what === 'add' ? 'ban' : 'unban'}?${q}`);
      bans = (body.bans as Ban[]) ?? [];
      removed = what !== 'remove' || body.unbanned !== null;
    }
    if (opts.json) out.write(`${JSON.stringify(bans)}\n`);
    else if (bans.length === 0) out.write('no bans\n');
    else for (const b of bans) out.write(`${b.source}  until ${b.until}  ${b.reason}  (by node ${b.by})\n`);
    if (!removed) {
      err.write(`anysip ban remove: ${source} was not banned\n`);
      return 3;
    }
    return 0;
  } catch (e) {
    err.write(`anysip ban ${what}: the node at ${endpoint}: ${(e as Error).message}\n`);
    return 1;
  }
}
