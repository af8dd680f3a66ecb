// `anysip location show AOR` and `anysip location dump [--json]`: the
// cluster-wide binding table as this node holds it (GET /location).

import { adminEndpoint } from './status.js';

export interface LocationOptions {
  config?: string;
  admin?: string;
  json?: boolean;
}

interface BindingLine {
  contact: string;
  q: string;
  expires: number;
  received: string;
  flow?: { node: number; connection: number };
  user_agent?: string;
}

export async function runLocation(what: 'show' | 'dump', aor: string | undefined, opts: LocationOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const endpoint = opts.admin ?? adminEndpoint(opts.config);
  const url = `http://${endpoint}/location${what === 'show' ? `?aor=${encodeURIComponent(aor ?? '')}` : ''}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(what === 'show' ? 3000 : 120_000) });
  } catch (e) {
    err.write(`anysip location: cannot reach the admin endpoint at ${endpoint}: ${(e as Error).message}\n`);
    return 1;
  }
  if (what === 'show') {
    const body = (await res.json()) as { aor: string; bindings?: BindingLine[]; error?: string };
    if (res.status === 400) {
      err.write(`anysip location: ${body.error}\n`);
      return 2;
    }
    if (opts.json) out.write(JSON.stringify(body, null, 2) + '\n');
    else out.write(formatAor(body.aor, body.bindings ?? []));
    return res.status === 404 ? 3 : 0;
  }
  if (!res.ok || !res.body) {
    err.write(`anysip location: HTTP ${res.status} from ${endpoint}\n`);
    return 1;
  }
  // NDJSON, one AOR a line: printed as it comes, never held whole.
  let rest = '';
  let aors = 0;
  let bindings = 0;
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      if (opts.json) {
        out.write(line + '\n');
        continue;
      }
      const e = JSON.parse(line) as { aor: string; bindings: BindingLine[] };
      aors++;
      bindings += e.bindings.length;
      out.write(formatAor(e.aor, e.bindings));
    }
  }
  if (!opts.json) out.write(`${bindings} bindings for ${aors} AORs\n`);
  return 0;
}

function formatAor(aor: string, bindings: BindingLine[]): string {
  if (bindings.length === 0) return `${aor}: not registered\n`;
  const lines = [`${aor}:`];
  for (const b of bindings) {
    const flow = b.flow ? ` on node ${b.flow.node} connection ${b.flow.connection}` : '';
    lines.push(`  ${b.contact} q=${b.q} expires=${b.expires}s from ${b.received}${flow}${b.user_agent ? ` (${b.user_agent})` : ''}`);
  }
  return lines.join('\n') + '\n';
}
