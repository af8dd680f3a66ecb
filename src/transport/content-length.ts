// Reads Content-Length out of a raw header block without decoding it to a
// string: the framer calls this once per stream message, on bytes only.

import { FramingError } from '../core/errors.js';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;
/** 'content-length' in lower case; header names compare with `byte | 0x20`. */
const LONG_NAME = Buffer.from('content-length', 'latin1');

/** Skips SP/HT and folded line breaks (CRLF followed by SP/HT, RFC 3261 7.3.1). */
function skipLws(buf: Buffer, i: number, end: number): number {
  for (;;) {
    const c = buf[i];
    if (c === SP || c === HT) {
      i++;
    } else if (c === CR && i + 2 < end && buf[i + 1] === LF && (buf[i + 2] === SP || buf[i + 2] === HT)) {
      i += 3;
    } else {
      return i;
    }
  }
}

function isNameEnd(c: number): boolean {
  return c === COLON || c === SP || c === HT || c === CR || c === LF;
}

function nameIs(buf: Buffer, start: number, len: number): boolean {
  if (len === 1) return (buf[start]! | 0x20) === 0x6c; // compact form 'l'
  if (len !== LONG_NAME.length) return false;
  // `| 0x20` lower-cases letters and keeps '-'; CR (which would alias '-') ends a name, so it never gets here.
  for (let k = 0; k < len; k++) if ((buf[start + k]! | 0x20) !== LONG_NAME[k]) return false;
  return true;
}

/**
 * Content-Length of the header block buf[start, end) (end just past the blank
 * line), or -1 when the header is absent. Throws FramingError on a malformed
 * value or on two headers that disagree. Values above `limit` are reported as
 * limit + 1 so a huge number never overflows.
 */
export function readContentLength(buf: Buffer, start: number, end: number, limit: number): number {
  let found = -1;
  // The start line is never a header: begin after its LF.
  let i = buf.indexOf(LF, start);
  if (i < 0 || i >= end) return -1;
  i++;
  while (i < end) {
    const first = buf[i]!;
    if (first === CR || first === LF) break; // the blank line
    let lineEnd = buf.indexOf(LF, i);
    if (lineEnd < 0 || lineEnd >= end) lineEnd = end;
    if (first !== SP && first !== HT) {
      let j = i;
      while (j < lineEnd && !isNameEnd(buf[j]!)) j++;
      if (nameIs(buf, i, j - i)) {
        j = skipLws(buf, j, end);
        if (buf[j] !== COLON) throw new FramingError('malformed Content-Length header');
        j = skipLws(buf, j + 1, end);
        let value = 0;
        const digitsStart = j;
        for (let c = buf[j]!; c >= ZERO && c <= NINE; c = buf[++j]!) {
          if (value <= limit) value = value * 10 + (c - ZERO);
        }
        if (j === digitsStart) throw new FramingError('Content-Length is not a number');
        if (value > limit) value = limit + 1;
        j = skipLws(buf, j, end);
        if (buf[j] !== CR && buf[j] !== LF) throw new FramingError('Content-Length is not a number');
        if (found >= 0 && found !== value) throw new FramingError('conflicting Content-Length headers');
        found = value;
        // The value may have been folded across lines: continue after where it really ended.
        lineEnd = buf.indexOf(LF, j);
        if (lineEnd < 0) lineEnd = end;
      }
    }
    i = lineEnd + 1;
  }
  return found;
}
