// Structured logging: one bunyan JSON object per line on stdout, so logs of
// several nodes can be merged and filtered by node_id with standard tools.

import bunyan from 'bunyan';

export type Logger = bunyan;
export type { LogLevelString } from 'bunyan';

export interface LoggerOptions {
  name: string;
  /** trace | debug | info | warn | error | fatal */
  level: string;
  /** Added to every record as `node_id`. */
  nodeId?: number;
  /** Where to write; default process.stdout. Tests pass their own stream. */
  stream?: NodeJS.WritableStream;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

export function createLogger(opts: LoggerOptions): Logger {
  // bunyan would accept a bad level silently as a number; a typo must fail loudly.
  if (!LEVELS.has(opts.level)) throw new Error(`unknown log level "${opts.level}" (trace|debug|info|warn|error|fatal)`);
  const level = opts.level as bunyan.LogLevelString;
  return bunyan.createLogger({
    name: opts.name,
    level,
    streams: [{ stream: opts.stream ?? process.stdout, level }],
    ...(opts.nodeId !== undefined ? { node_id: opts.nodeId } : {}),
  });
}

/** A logger that writes nothing: for tests and the simulator's many nodes. */
export function silentLogger(name = 'anysip'): Logger {
  return bunyan.createLogger({ name, streams: [], level: bunyan.FATAL + 1 });
}
