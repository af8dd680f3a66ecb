// Cuts a byte stream (TCP) into SIP messages (RFC 3261 18.3) and spots
// RFC 5626 CRLF keep-alives between them.
//
// Cost model: every byte is examined once. A message that lies inside one
// chunk is handed up as a zero-copy subarray of that chunk. A message spread
// over several chunks is gathered into one growing buffer (doubling, so
// byte-by-byte input stays linear) and handed up as a subarray of it.

import { FramingError, MessageTooLargeError } from '../core/errors.js';
import { readContentLength } from './content-length.js';

export interface StreamFramerOptions {
  /** Largest start line + headers + blank line accepted, in bytes. Default 64 KiB. */
  maxHeaderSize?: number;
  /** Largest whole message (headers + body) accepted, in bytes. Default 64 KiB. */
  maxMessageSize?: number;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024;

/** Content-Length values are read exactly up to this (1 TB; larger ones as this + 1), so a 513 can name the size. */
const CONTENT_LENGTH_CAP = 1e12;

const CR = 0x0d;
const LF = 0x0a;
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
/** Bytes of "\r\n\r\n" by position, for the matchers that carry state across chunks. */
const PATTERN = [CR, LF, CR, LF] as const;

const enum Phase {
  /** Between messages: skipping CRLF keep-alives. */
  Idle,
  /** Inside the start line and headers, looking for CRLFCRLF. */
  Head,
  /** Headers done, waiting for Content-Length body bytes. */
  Body,
}

/** Next state of a "\r\n\r\n" matcher after byte `c` in state `m` (bytes matched so far). */
function step(m: number, c: number): number {
  if (c === PATTERN[m]) return m + 1;
  // On a mismatch only a CR can start a new match (the pattern has no other self-overlap).
  return c === CR ? 1 : 0;
}

/**
 * Usage: set `onMessage` (and `onPing`) once, then `push` every chunk read
 * from the connection. Callbacks run synchronously inside `push`; a message
 * Buffer may share memory with the pushed chunk, so do not modify either.
 *
 * `push` throws FramingError when the stream cannot be framed (missing or bad
 * Content-Length, headers over their limit). A message whose Content-Length
 * takes it over `maxMessageSize` is handed to `onOversize` as its header
 * section alone (the body is never buffered, so the request can still be
 * answered with 513), then `push` throws MessageTooLargeError. Either way the
 * framer is broken for good: the caller must close the connection, since
 * nothing later on the stream can be trusted to start on a message boundary.
 */
export class StreamFramer {
  /** Called with each complete message (start line, headers, body). */
  onMessage: (message: Buffer) => void = () => {};
  /** Called for each CRLFCRLF keep-alive ping; the connection should answer one CRLF (RFC 5626 4.4.1). */
  onPing: () => void = () => {};
  /**
   * Called with the start line and headers (through the blank line) of a message whose declared
   * size, `size` bytes (at least; a huge Content-Length is capped), is over maxMessageSize.
   */
  onOversize: (headers: Buffer, size: number) => void = () => {};

  private readonly maxHeaderSize: number;
  private readonly maxMessageSize: number;
  private phase = Phase.Idle;
  /** Idle: keep-alive matcher state. Head: header-end matcher state at the end of the buffered bytes. */
  private match = 0;
  /** Bytes of the current message gathered from earlier chunks (null when none). */
  private acc: Buffer | null = null;
  private accLen = 0;
  /** Body phase: full length of the current message. */
  private total = 0;
  /** Bytes of the current message that were seen so far (gathered or in the current chunk). */
  private headLen = 0;
  private failure: FramingError | MessageTooLargeError | null = null;

  constructor(opts: StreamFramerOptions = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxHeaderSize = Math.min(opts.maxHeaderSize ?? DEFAULT_MAX_MESSAGE_SIZE, this.maxMessageSize);
  }

  /** Bytes held for an incomplete message (for tests and diagnostics). */
  get buffered(): number {
    return this.accLen;
  }

  push(chunk: Buffer): void {
    if (this.failure !== null) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      if (err instanceof FramingError || err instanceof MessageTooLargeError) {
        this.failure = err;
        this.acc = null;
        this.accLen = 0;
      }
      throw err;
    }
  }

  private consume(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    /** Start, in this chunk, of a message not yet gathered into acc (-1: none). */
    let start = -1;
    while (pos < n) {
      if (this.phase === Phase.Idle) {
        pos = this.skipKeepalives(chunk, pos);
        if (pos === n) break;
        start = pos;
        this.phase = Phase.Head;
        this.match = 0;
        this.headLen = 0;
      }
      if (this.phase === Phase.Head) {
        const end = this.findHeaderEnd(chunk, pos);
        if (end < 0) {
          // No end in this chunk: keep what we have (bounded by the header limit) for the next one.
          if (this.headLen + (n - pos) > this.maxHeaderSize) {
            throw new FramingError(`SIP headers exceed ${this.maxHeaderSize} bytes`);
          }
          this.headLen += n - pos;
          if (start < 0) this.gather(chunk, pos, n);
          pos = n;
          break;
        }
        const headerBytes = this.headLen + (end - pos);
        if (headerBytes > this.maxHeaderSize) {
          throw new FramingError(`SIP headers exceed ${this.maxHeaderSize} bytes`);
        }
        let length: number;
        if (start >= 0) {
          length = readContentLength(chunk, start, end, CONTENT_LENGTH_CAP);
        } else {
          this.gather(chunk, pos, end);
          length = readContentLength(this.acc!, 0, this.accLen, CONTENT_LENGTH_CAP);
        }
        if (length < 0) throw new FramingError('Content-Length is required on stream transports (RFC 3261 18.3)');
        this.total = headerBytes + length;
        if (this.total > this.maxMessageSize) {
          this.onOversize(start >= 0 ? chunk.subarray(start, end) : this.acc!.subarray(0, this.accLen), this.total);
          throw new MessageTooLargeError(`SIP message of ${this.total} bytes exceeds ${this.maxMessageSize}`, this.total, this.maxMessageSize);
        }
        this.phase = Phase.Body;
        pos = end;
      }
      // Phase.Body
      if (start >= 0) {
        const stop = start + this.total;
        if (stop > n) {
          pos = n;
          break;
        }
        this.phase = Phase.Idle;
        this.match = 0;
        pos = stop;
        start = -1;
        this.onMessage(chunk.subarray(stop - this.total, stop));
      } else {
        const take = Math.min(this.total - this.accLen, n - pos);
        this.gather(chunk, pos, pos + take);
        pos += take;
        if (this.accLen < this.total) break;
        const message = this.acc!.subarray(0, this.total);
        this.acc = null;
        this.accLen = 0;
        this.phase = Phase.Idle;
        this.match = 0;
        this.onMessage(message);
      }
    }
    // A message begun in this chunk but not finished: keep its bytes.
    if (start >= 0 && this.phase !== Phase.Idle && this.accLen === 0) this.gather(chunk, start, n);
  }

  /** Skips CR/LF bytes before a message, reporting each CRLFCRLF. Returns the first other byte's index. */
  private skipKeepalives(chunk: Buffer, pos: number): number {
    const n = chunk.length;
    let m = this.match;
    for (; pos < n; pos++) {
      const c = chunk[pos]!;
      if (c !== CR && c !== LF) break;
      m = step(m, c);
      if (m === 4) {
        m = 0;
        this.match = 0;
        this.onPing();
      }
    }
    this.match = pos < n ? 0 : m;
    return pos;
  }

  /** Index just past CRLFCRLF in chunk (searching from pos, with the carried match state), or -1. */
  private findHeaderEnd(chunk: Buffer, pos: number): number {
    const n = chunk.length;
    let m = this.match;
    // Finish a match begun in an earlier chunk, byte by byte (at most 3 bytes).
    while (m > 0 && pos < n) {
      m = step(m, chunk[pos++]!);
      if (m === 4) {
        this.match = 0;
        return pos;
      }
    }
    if (pos >= n) {
      this.match = m;
      return -1;
    }
    const at = chunk.indexOf(HEADER_END, pos);
    if (at >= 0) {
      this.match = 0;
      return at + 4;
    }
    // Remember a partial match at the chunk's end; it can only lie in the last 3 bytes.
    m = 0;
    for (let i = Math.max(pos, n - 3); i < n; i++) m = step(m, chunk[i]!);
    this.match = m;
    return -1;
  }

  /** Appends chunk[from, to) to the gathering buffer, growing it by doubling. */
  private gather(chunk: Buffer, from: number, to: number): void {
    const len = to - from;
    if (len <= 0) return;
    const need = this.accLen + len;
    let acc = this.acc;
    if (acc === null || acc.length < need) {
      // In the body phase the final size is known: allocate it exactly once.
      const size =
        this.phase === Phase.Body
          ? Math.max(this.total, need)
          : Math.min(Math.max(need, (acc?.length ?? 256) * 2), this.maxMessageSize);
      const grown = Buffer.allocUnsafe(Math.max(size, need));
      if (acc !== null) acc.copy(grown, 0, 0, this.accLen);
      this.acc = acc = grown;
    }
    chunk.copy(acc, this.accLen, from, to);
    this.accLen = need;
  }
}
