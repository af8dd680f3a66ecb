// `anysip reload`: POST /reload on the node's admin endpoint. What can change
// without a restart (today the subscriber file) is read again; a bad file is
// refused and the node keeps the old one. `kill -HUP <pid>` does the same.

import { call } from './drain.js';
import { adminEndpoint } from './status.js';

/** Exit codes: 0 reloaded, 1 the endpoint is unreachable or the node refused the new files. */
export async function runReload(opts: { config?: string; admin?: string; json?: boolean }, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const endpoint = opts.admin ?? adminEndpoint(opts.config);
  try {
    const body = await call(endpoint, 'POST', '/reload');
    out.write(opts.json ? `${JSON.stringify(body)}\n` : `reloaded${typeof body.subscribers === 'number' ? `: ${body.subscribers} subscribers` : ''}\n`);
    return 0;
  } catch (e) {
    err.write(`anysip reload: the node at ${endpoint} did not reload: ${(e as Error).message}\n`);
    return 1;
  }
}
