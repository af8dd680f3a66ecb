// Turns a failed bind into an error an operator can act on: which socket,
// which address, and why.

import { TransportError } from '../core/errors.js';
import { formatEndpoint } from './address.js';
import type { SocketSpec } from './types.js';

export function bindError(spec: SocketSpec, err: unknown): TransportError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const why = code ?? (err instanceof Error ? err.message : String(err));
  const e = new TransportError(
    `socket '${spec.id}' (${spec.transport}) cannot bind ${formatEndpoint(spec.address, spec.port)}: ${why}`,
  );
  (e as { cause?: unknown }).cause = err;
  return e;
}
