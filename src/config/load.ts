// Reads a YAML config, validates it and turns every problem into a
// ConfigError that names the file, the YAML path of the key and its line.

import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { EMBEDDED_DEFAULT_YAML } from './default.js';
import { configSchema, crossCheck, knownKeysAt, type Problem } from './schema.js';
import type { Config } from './types.js';

export { EMBEDDED_DEFAULT_YAML } from './default.js';

/** The file name errors carry when the embedded default is in use. */
export const EMBEDDED_FILE = '<embedded default>';

type Path = (string | number)[];

/** `['listen', 1, 'port']` -> `listen[1].port`, the form operators see in errors. */
export function formatKey(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(top level)';
}

/** Load and validate `file`, or the embedded default when no file is given. Throws ConfigError. */
export function loadConfig(file?: string): Config {
  if (file === undefined) return parseConfig(EMBEDDED_DEFAULT_YAML, EMBEDDED_FILE);
  return parseConfig(readConfigFile(file), file);
}

/**
 * Validate YAML text. `file` is used in errors and as the base for the
 * relative route_hook path. Throws the first problem as a ConfigError.
 */
export function parseConfig(text: string, file: string): Config {
  const { config, errors } = analyse(text, file);
  if (errors.length > 0 || !config) throw errors[0] ?? new ConfigError(file, '(top level)', 'invalid');
  return config;
}

/**
 * Every problem in `file` (or the embedded default), for `anysip start --check`:
 * an empty list means the config is valid. Cross-key checks run only once the
 * keys themselves are valid, so a second run may find more.
 */
export function validateOnly(file?: string): ConfigError[] {
  if (file === undefined) return analyse(EMBEDDED_DEFAULT_YAML, EMBEDDED_FILE).errors;
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (err) {
    return [err as ConfigError];
  }
  return analyse(text, file).errors;
}

function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, '(file)', `cannot read: ${(err as Error).message}`);
  }
}

function analyse(text: string, file: string): { config?: Config; errors: ConfigError[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => {
        const line = e.linePos?.[0].line;
        // yaml appends " at line N, column M:" and a code excerpt; the key carries the line instead.
        const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return new ConfigError(file, line ? `line ${line}` : '(yaml)', `YAML syntax error: ${msg}`);
      }),
    };
  }

  let raw: unknown = doc.toJS({ maxAliasCount: 100 });
  raw ??= {}; // an empty file: let the schema say what is missing
  const emptied = new Set<string>();
  raw = dropNulls(raw, [], emptied);

  const lines = new Map<ConfigError, number>();
  const where = (path: Path, problem: string): ConfigError => {
    const line = lineOf(doc, lineCounter, path);
    const err = new ConfigError(file, formatKey(path), line ? `${problem} (line ${line})` : problem);
    lines.set(err, line ?? Infinity);
    return err;
  };
  // Report in file order, so the first error thrown is the first one the operator meets.
  const inFileOrder = (errs: ConfigError[]) => errs.sort((a, b) => {
      const la = lines.get(a)!;
      const lb = lines.get(b)!;
      return la === lb ? 0 : la < lb ? -1 : 1;
    });

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const errors: ConfigError[] = [];
    for (const issue of parsed.error.issues) {
      const path = issue.path as Path;
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) errors.push(where([...path, key], unknownKeyProblem(path, key)));
      } else {
        errors.push(where(path, describeIssue(issue, raw, emptied)));
      }
    }
    return { errors: inFileOrder(errors) };
  }

  const config = parsed.data as Config;
  const problems: Problem[] = crossCheck(config);
  if (config.route_hook !== undefined) {
    const base = file === EMBEDDED_FILE ? process.cwd() : dirname(resolve(file));
    const hook = resolve(base, config.route_hook);
    if (!isFile(hook)) problems.push({ path: ['route_hook'], message: `no such file: ${hook}` });
    config.route_hook = hook;
  }
  if (config.auth.subscribers !== undefined) {
    const base = file === EMBEDDED_FILE ? process.cwd() : dirname(resolve(file));
    const subscribers = resolve(base, config.auth.subscribers);
    if (!isFile(subscribers)) problems.push({ path: ['auth', 'subscribers'], message: `no such file: ${subscribers}` });
    config.auth.subscribers = subscribers;
  }
  if (problems.length > 0) return { errors: inFileOrder(problems.map((p) => where(p.path, p.message))) };
  return { config, errors: [] };
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * `port:` with nothing after it is null in YAML. Treat it as absent so that a
 * section whose entries are all commented out falls back to its defaults, and
 * remember where, so a required key can say "has no value" rather than "missing".
 */
function dropNulls(v: unknown, path: Path, emptied: Set<string>): unknown {
  if (Array.isArray(v)) return v.map((x, i) => dropNulls(x, [...path, i], emptied));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === null) emptied.add(formatKey([...path, k]));
      else out[k] = dropNulls(x, [...path, k], emptied);
    }
    return out;
  }
  return v;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}

const TYPE_WORDS: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

function describeIssue(issue: z.core.$ZodIssue, raw: unknown, emptied: Set<string>): string {
  const value = valueAt(raw, issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      if (value === undefined) return emptied.has(formatKey(issue.path)) ? 'has no value (required)' : 'missing (required)';
      const expected = TYPE_WORDS[issue.expected] ?? issue.expected;
      return `expected ${expected}, got ${describeValue(value)}`;
    }
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} items`;
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      return `must be <= ${issue.maximum} (got ${String(value)})`;
    case 'too_small':
      if (issue.message && !issue.message.startsWith('Too small')) return issue.message;
      if (issue.origin === 'array') return `must have at least ${issue.minimum} item${Number(issue.minimum) === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return `must be at least ${issue.minimum} characters`;
      return `must be >= ${issue.minimum} (got ${String(value)})`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((x) => String(x)).join(', ')} (got ${describeValue(value)})`;
    default:
      return issue.message;
  }
}

/** Operators mistype: suggest the key they probably meant. */
function unknownKeyProblem(path: Path, key: string): string {
  const known = knownKeysAt(path);
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const guess =
    known.find((k) => norm(k) === norm(key)) ??
    known
      .map((k) => [k, editDistance(k, key)] as const)
      .filter(([, d]) => d <= 2)
      .sort((a, b) => a[1] - b[1])[0]?.[0];
  if (guess) return `unknown key; did you mean "${guess}"?`;
  return known.length ? `unknown key (known keys here: ${known.join(', ')})` : 'unknown key';
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** 1-based line of the key at `path` (or of its nearest existing parent). */
function lineOf(doc: Document, lc: LineCounter, path: Path): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const parent = n === 0 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const last = path[n - 1];
    let range: readonly number[] | null | undefined;
    if (n === 0) range = doc.contents?.range;
    else if (isMap(parent)) {
      // Point at the key rather than the value: for a missing value there is only the key.
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
      range = pair && isScalar(pair.key) ? pair.key.range : undefined;
    } else {
      const node = doc.getIn(path.slice(0, n), true) as { range?: readonly number[] } | undefined;
      range = node?.range;
    }
    if (range) return lc.linePos(range[0]!).line;
  }
  return undefined;
}
