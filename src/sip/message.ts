// The SIP message model shared by every layer.
//
// Strings are latin1 "byte strings": one JS char per wire byte. That makes
// untouched headers round-trip byte for byte (UTF-8 display names included)
// and keeps decoding cheap. Convert with Buffer.from(s, 'latin1') when bytes
// are needed, and decode as UTF-8 only for display.
//
// Headers are kept in wire order as fields. A field keeps its exact wire text
// (`raw`) until it is changed; serialize() re-emits raw text for every field
// the proxy did not touch. Structured views (Via, From, CSeq, ...) are parsed
// on first use and cached.

import { headerKey, isListHeader, splitHeaderList } from './header-names.js';
import { parseCSeq, parseNameAddr, parseVia } from './headers.js';
import type { CSeq, NameAddr, Via } from './types.js';
import { SipParseError } from '../core/errors.js';

/**
 * One header field. Immutable: changing a header replaces its field object (set, prepend, shift, ...),
 * so messages can share fields (clone() does).
 */
export interface HeaderField {
  /** Name as written on the wire (may be compact, odd case). */
  readonly name: string;
  /** Canonical key: lowercased long name. */
  readonly key: string;
  /** Value with folding unfolded to single spaces and surrounding whitespace trimmed. */
  readonly value: string;
  /** Exact wire text of this field including its line ending(s), or null once changed or when built locally. */
  readonly raw: string | null;
}

export type StartLine =
  | { kind: 'request'; method: string; uri: string; version: string }
  | { kind: 'response'; status: number; reason: string; version: string };

export class SipMessage {
  isRequest: boolean;
  /** Request method; for a response, the CSeq method (filled lazily). */
  private _method: string;
  /** Request-URI text as on the wire (requests only). */
  uri: string;
  status: number;
  reason: string;
  version: string;
  headers: HeaderField[];
  body: Buffer;

  private _vias?: Via[];
  private _from?: NameAddr;
  private _to?: NameAddr;
  private _cseq?: CSeq;

  constructor(start: StartLine, headers: HeaderField[] = [], body: Buffer = EMPTY) {
    this.version = start.version;
    if (start.kind === 'request') {
      this.isRequest = true;
      this._method = start.method;
      this.uri = start.uri;
      this.status = 0;
      this.reason = '';
    } else {
      this.isRequest = false;
      this._method = '';
      this.uri = '';
      this.status = start.status;
      this.reason = start.reason;
    }
    this.headers = headers;
    this.body = body;
  }

  static request(method: string, uri: string): SipMessage {
    return new SipMessage({ kind: 'request', method, uri, version: 'SIP/2.0' });
  }

  static response(status: number, reason: string): SipMessage {
    return new SipMessage({ kind: 'response', status, reason, version: 'SIP/2.0' });
  }

  get method(): string {
    if (!this.isRequest && this._method === '') this._method = this.cseq.method;
    return this._method;
  }

  set method(m: string) {
    this._method = m;
  }

  // ---- raw header access -------------------------------------------------

  /** First value of the header with this key (a whole line: list headers are not split). */
  get(key: string): string | undefined {
    for (const h of this.headers) if (h.key === key) return h.value;
    return undefined;
  }

  has(key: string): boolean {
    for (const h of this.headers) if (h.key === key) return true;
    return false;
  }

  /** Every field with this key, in order. */
  fields(key: string): HeaderField[] {
    return this.headers.filter((h) => h.key === key);
  }

  /** All values for this key; list headers are split at top-level commas. */
  getAll(key: string): string[] {
    const list = isListHeader(key);
    const out: string[] = [];
    for (const h of this.headers) {
      if (h.key !== key) continue;
      if (list) for (const v of splitHeaderList(h.value)) out.push(v);
      else out.push(h.value);
    }
    return out;
  }

  /** Replace every field of this key by one field (or remove them all when value is undefined). */
  set(name: string, value: string | undefined): void {
    const key = headerKey(name);
    const at = this.headers.findIndex((h) => h.key === key);
    this.headers = this.headers.filter((h) => h.key !== key);
    if (value !== undefined) {
      const field = newField(name, key, value);
      if (at >= 0) this.headers.splice(at, 0, field);
      else this.headers.push(field);
    }
    this.invalidate(key);
  }

  /** Insert a field before the first field of the same key (or at the top for Via, else at the end). */
  prepend(name: string, value: string): void {
    const key = headerKey(name);
    const field = newField(name, key, value);
    const at = this.headers.findIndex((h) => h.key === key);
    if (at >= 0) this.headers.splice(at, 0, field);
    else if (key === 'via') this.headers.unshift(field);
    else this.headers.push(field);
    this.invalidate(key);
  }

  append(name: string, value: string): void {
    const key = headerKey(name);
    this.headers.push(newField(name, key, value));
    this.invalidate(key);
  }

  remove(key: string): void {
    this.headers = this.headers.filter((h) => h.key !== key);
    this.invalidate(key);
  }

  /**
   * Remove and return the first value of a list header (the top Via, the
   * first Route). A field holding several values is rewritten without it.
   */
  shift(key: string): string | undefined {
    const at = this.headers.findIndex((h) => h.key === key);
    if (at < 0) return undefined;
    const field = this.headers[at]!;
    const values = splitHeaderList(field.value);
    const first = values.shift();
    if (values.length === 0) this.headers.splice(at, 1);
    else this.headers[at] = newField(field.name, key, values.join(', '));
    this.invalidate(key);
    return first;
  }

  /** Replace the first value of a list header (the top Via) and keep the others as they are. */
  replaceFirst(key: string, value: string): void {
    const at = this.headers.findIndex((h) => h.key === key);
    if (at < 0) return;
    const field = this.headers[at]!;
    const values = splitHeaderList(field.value);
    values[0] = value;
    this.headers[at] = newField(field.name, key, values.join(', '));
    this.invalidate(key);
  }

  /**
   * For a message kept long after its processing (the last response of a transaction lingering in
   * Completed): forget the parsed views (Via list, From, To, CSeq; parsed again on next use), and
   * give the body its own memory when it is a view into a larger input buffer (the datagram), which
   * would otherwise stay alive with it. Content and behaviour are unchanged. (A lingering
   * transaction's request is kept as text instead: src/tm/frozen.ts.)
   */
  compact(): void {
    this._vias = undefined;
    this._from = undefined;
    this._to = undefined;
    this._cseq = undefined;
    const body = this.body;
    if (body.length > 0 && body.byteLength < body.buffer.byteLength) {
      // Not from Buffer's shared 8 KB pool: one kept body would pin a whole pool slab.
      const own = Buffer.allocUnsafeSlow(body.length);
      body.copy(own);
      this.body = own;
    }
  }

  private invalidate(key: string): void {
    if (key === 'via') this._vias = undefined;
    else if (key === 'from') this._from = undefined;
    else if (key === 'to') this._to = undefined;
    else if (key === 'cseq') this._cseq = undefined;
  }

  // ---- parsed views (throw SipParseError when the header is missing or bad) ----

  get vias(): Via[] {
    return (this._vias ??= this.getAll('via').map(parseVia));
  }

  get topVia(): Via {
    const v = this.vias[0];
    if (!v) throw missing('Via');
    return v;
  }

  get from(): NameAddr {
    const v = this.get('from');
    if (v === undefined) throw missing('From');
    return (this._from ??= parseNameAddr(v));
  }

  get to(): NameAddr {
    const v = this.get('to');
    if (v === undefined) throw missing('To');
    return (this._to ??= parseNameAddr(v));
  }

  get callId(): string {
    const v = this.get('call-id');
    if (v === undefined) throw missing('Call-ID');
    return v;
  }

  get cseq(): CSeq {
    const v = this.get('cseq');
    if (v === undefined) throw missing('CSeq');
    return (this._cseq ??= parseCSeq(v));
  }

  get fromTag(): string | undefined {
    return this.from.params.get('tag') ?? undefined;
  }

  get toTag(): string | undefined {
    return this.to.params.get('tag') ?? undefined;
  }

  // ---- output --------------------------------------------------------------

  startLine(): string {
    return this.isRequest
      ? `${this._method} ${this.uri} ${this.version}`
      : `${this.version} ${this.status} ${this.reason}`;
  }

  /** Wire form. Untouched fields are emitted byte for byte. */
  serialize(): Buffer {
    let head = this.startLine() + '\r\n';
    for (const h of this.headers) head += h.raw ?? `${h.name}: ${h.value}\r\n`;
    head += '\r\n';
    const headBuf = Buffer.from(head, 'latin1');
    return this.body.length ? Buffer.concat([headBuf, this.body]) : headBuf;
  }

  /** Bytes serialize() would produce, without building them (strings are latin1: one char per byte). */
  byteLength(): number {
    let n = this.startLine().length + 4; // start line CRLF + blank line CRLF
    for (const h of this.headers) n += h.raw !== null ? h.raw.length : h.name.length + h.value.length + 4;
    return n + this.body.length;
  }

  toString(): string {
    return this.serialize().toString('latin1');
  }

  /** Replace the body and keep Content-Length (and optionally Content-Type) in step. */
  setBody(body: Buffer, contentType?: string): void {
    this.body = body;
    if (contentType !== undefined) this.set('Content-Type', contentType);
    this.set('Content-Length', String(body.length));
  }

  /**
   * Deep enough copy for forking: its own field list (changing either message's headers does not touch
   * the other), sharing the immutable field objects and the body buffer (never mutated in place).
   */
  clone(): SipMessage {
    const start: StartLine = this.isRequest
      ? { kind: 'request', method: this._method, uri: this.uri, version: this.version }
      : { kind: 'response', status: this.status, reason: this.reason, version: this.version };
    const copy = new SipMessage(start, this.headers.slice(), this.body);
    return copy;
  }
}

const EMPTY = Buffer.alloc(0);

function newField(name: string, key: string, value: string): HeaderField {
  return { name, key, value, raw: null };
}

function missing(name: string): SipParseError {
  return new SipParseError(`Missing ${name} header`);
}
