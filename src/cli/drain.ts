// `anysip drain [--wait] [--timeout S]` and `anysip undrain`: POST /drain or /undrain on the
// node's admin endpoint, print what it says; --wait polls /status until the node is drained.

import { adminEndpoint, formatDrain, type DrainView } from './status.js';

export interface DrainOptions {
  config?: string;
  admin?: string;
  json?: boolean;
  wait?: boolean;
  /** Seconds --wait waits at most (default 300). */
  timeout?: string | number;
  /** Poll interval of --wait, ms (tests). */
  pollMs?: number;
}

/** Exit codes: 0 done (drained with --wait), 1 admin endpoint unreachable or error, 4 --wait timed out. */
export const EXIT_TIMEOUT = 4;

/** One request to the admin endpoint; throws with the HTTP status and the node's error message. */
export async function call(endpoint: string, method: 'GET' | 'POST', path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://${endpoint}${path}`, { method, signal: AbortSignal.timeout(15_000) });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(`HTTP ${res.status}${typeof body.error === 'string' ? `: ${body.error}` : ''}`);
  return body;
}

export async function runDrain(what: 'drain' | 'undrain', opts: DrainOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const timeoutS = opts.timeout === undefined ? 300 : Number(opts.timeout);
  if (!(timeoutS > 0)) {
    err.write(`anysip ${what}: --timeout must be a number of seconds > 0 (got ${String(opts.timeout)})\n`);
    return 2;
  }
  const endpoint = opts.admin ?? adminEndpoint(opts.config);
  let d: DrainView;
  try {
    d = (await call(endpoint, 'POST', `/${what}`)) as unknown as DrainView;
  } catch (e) {
    err.write(`anysip ${what}: cannot ${what} the node at ${endpoint}: ${(e as Error).message}\n`);
    return 1;
  }
  const cmd = what === 'drain' ? d.withdraw : d.announce;
  if (!opts.json) out.write(formatDrain(d).join('\n') + '\n');
  if (cmd && !cmd.ok) err.write(`anysip ${what}: the ${what === 'drain' ? 'withdraw' : 'announce'} command failed (${cmd.error ?? `exit ${cmd.exit}`}): ${cmd.command}\n`);
  if (what === 'undrain' || !opts.wait) {
    if (opts.json) out.write(JSON.stringify(d, null, 2) + '\n');
    return cmd && !cmd.ok ? 1 : 0;
  }
  // --wait: until drained, or the timeout.
  const until = Date.now() + timeoutS * 1000;
  const poll = opts.pollMs ?? 250;
  let last = d;
  let lastLine = '';
  for (;;) {
    if (last.state === 'drained') break;
    if (Date.now() >= until) {
      if (opts.json) out.write(JSON.stringify(last, null, 2) + '\n');
      err.write(`anysip drain: not drained after ${timeoutS} s: ${last.state}, left ${last.left.server_transactions} server and ${last.left.client_transactions} client transactions\n`);
      return EXIT_TIMEOUT;
    }
    await new Promise((r) => setTimeout(r, Math.min(poll, Math.max(1, until - Date.now()))));
    try {
      const s = await call(endpoint, 'GET', '/status');
      if (s.drain) last = s.drain as DrainView;
    } catch (e) {
      err.write(`anysip drain: lost the admin endpoint at ${endpoint} while waiting: ${(e as Error).message}\n`);
      return 1;
    }
    if (!opts.json) {
      const line = `  left: ${last.left.server_transactions} server, ${last.left.client_transactions} client transactions (${last.state})`;
      if (line !== lastLine) out.write(line + '\n');
      lastLine = line;
    }
  }
  if (opts.json) out.write(JSON.stringify(last, null, 2) + '\n');
  else out.write(`drained after ${((last.draining_for_ms ?? 0) / 1000).toFixed(1)} s\n`);
  return cmd && !cmd.ok ? 1 : 0;
}
