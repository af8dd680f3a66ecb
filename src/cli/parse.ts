// `anysip parse FILE|-`: parse and validate one SIP message, print it as JSON.

import { readFile } from 'node:fs/promises';
import { SipParseError } from '../core/errors.js';
import { parseMessage } from '../sip/parser.js';
import { validateRequest, validateResponse } from '../sip/validate.js';
import type { NameAddr, Params, Via } from '../sip/types.js';

/** Exit code 0 with JSON on stdout, or 1 with one `anysip parse: FILE: STATUS REASON` line on stderr. */
export async function runParse(
  file: string,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  let bytes: Buffer;
  try {
    bytes = file === '-' ? await readAll(stdin) : await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'read error';
    stderr.write(`anysip parse: ${file}: cannot read (${code})\n`);
    return 1;
  }
  try {
    const msg = parseMessage(bytes);
    const bad = msg.isRequest ? validateRequest(msg) : validateResponse(msg);
    if (bad) {
      stderr.write(`anysip parse: ${file}: ${bad.status} ${bad.reason}\n`);
      return 1;
    }
    const out = {
      type: msg.isRequest ? 'request' : 'response',
      method: text(msg.method),
      uri: msg.isRequest ? text(msg.uri) : undefined,
      status: msg.isRequest ? undefined : msg.status,
      reason: msg.isRequest ? undefined : text(msg.reason),
      headers: msg.headers.map((h) => ({ name: text(h.name), value: text(h.value) })),
      via: msg.vias.map(viaJson),
      from: nameAddrJson(msg.from),
      to: nameAddrJson(msg.to),
      callId: text(msg.callId),
      cseq: msg.cseq,
      body: msg.body.toString('utf8'),
    };
    stdout.write(JSON.stringify(out, null, 2) + '\n');
    return 0;
  } catch (e) {
    const status = e instanceof SipParseError ? e.status : 400;
    const reason = e instanceof Error ? e.message : String(e);
    stderr.write(`anysip parse: ${file}: ${status} ${reason.replace(/[\r\n]+/g, ' ')}\n`);
    return 1;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** latin1 byte string -> UTF-8 text for display. */
function text(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

function paramsJson(params: Params): Record<string, string | null> {
  const o: Record<string, string | null> = {};
  for (const [k, v] of params) o[text(k)] = v === null ? null : text(v);
  return o;
}

function viaJson(v: Via) {
  return {
    protocol: v.protocol,
    transport: v.transport,
    host: v.host,
    port: v.port,
    branch: v.branch === undefined ? undefined : text(v.branch),
    received: v.received,
    rport: v.rport,
    params: paramsJson(v.params),
  };
}

function nameAddrJson(na: NameAddr) {
  return {
    displayName: na.displayName === undefined ? undefined : text(na.displayName),
    uri: text(na.uriText),
    params: paramsJson(na.params),
  };
}
