// STUN keep-alives on the SIP UDP port (RFC 5626 sections 4.4.1 and 8): a UA
// on an outbound flow over UDP sends STUN Binding requests to the very port it
// sends SIP to, and takes the answer as proof the flow (and its NAT binding)
// is alive. We answer a Binding request with XOR-MAPPED-ADDRESS (RFC 5389
// 15.2), and FINGERPRINT when the request had one; anything else that looks
// like STUN is dropped. No authentication: the answer only tells a sender its
// own address, and is barely larger than the request.

import { crc32 } from 'node:zlib';
import { isIPv4 } from 'node:net';
import type { Endpoint } from './types.js';

const HEADER = 20;
const MAGIC = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;
const FINGERPRINT = 0x8028;
const FINGERPRINT_XOR = 0x5354554e;

/** STUN, not SIP: its first two bits are zero, so its first byte is never a letter (RFC 5389 6, RFC 7983). */
export function looksLikeStun(data: Buffer): boolean {
  return data.length >= HEADER && data[0]! < 2 && data.readUInt32BE(4) === MAGIC;
}

/** The answer to a Binding request from `from`, or undefined for any other (or malformed) STUN message. */
export function stunBindingResponse(req: Buffer, from: Endpoint): Buffer | undefined {
  if (!looksLikeStun(req) || req.readUInt16BE(0) !== BINDING_REQUEST) return undefined;
  const length = req.readUInt16BE(2);
  if (length % 4 !== 0 || HEADER + length !== req.length) return undefined;
  const fingerprinted = hasAttribute(req, FINGERPRINT);
  const address = xorMappedAddress(req, from);
  if (!address) return undefined;
  const res = Buffer.alloc(HEADER + address.length + (fingerprinted ? 8 : 0));
  res.writeUInt16BE(BINDING_SUCCESS, 0);
  res.writeUInt16BE(res.length - HEADER, 2);
  req.copy(res, 4, 4, HEADER); // magic cookie and transaction id
  address.copy(res, HEADER);
  if (fingerprinted) {
    const at = HEADER + address.length;
    res.writeUInt16BE(FINGERPRINT, at);
    res.writeUInt16BE(4, at + 2);
    res.writeUInt32BE((crc32(res.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0, at + 4);
  }
  return res;
}

function hasAttribute(msg: Buffer, type: number): boolean {
  for (let at = HEADER; at + 4 <= msg.length; ) {
    if (msg.readUInt16BE(at) === type) return true;
    at += 4 + Math.ceil(msg.readUInt16BE(at + 2) / 4) * 4;
  }
  return false;
}

/** XOR-MAPPED-ADDRESS of `from`: the port XORed with the cookie's top half, the address with the cookie (and the transaction id for IPv6). */
function xorMappedAddress(req: Buffer, from: Endpoint): Buffer | undefined {
  const v4 = isIPv4(from.address);
  const raw = v4 ? Buffer.from(from.address.split('.').map(Number)) : ipv6Bytes(from.address);
  if (!raw) return undefined;
  const attr = Buffer.alloc(4 + 4 + raw.length);
  attr.writeUInt16BE(XOR_MAPPED_ADDRESS, 0);
  attr.writeUInt16BE(4 + raw.length, 2);
  attr.writeUInt8(v4 ? 0x01 : 0x02, 5);
  attr.writeUInt16BE(from.port ^ (MAGIC >>> 16), 6);
  const mask = req.subarray(4, 4 + raw.length); // cookie, then transaction id
  for (let i = 0; i < raw.length; i++) attr[8 + i] = raw[i]! ^ mask[i]!;
  return attr;
}

function ipv6Bytes(address: string): Buffer | undefined {
  const [head = '', tail] = address.split('%')[0]!.split('::') as [string, string | undefined];
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  if (t.length && t[t.length - 1]!.includes('.')) return undefined; // an IPv4-mapped form: not sent by a UA to an IPv6 socket
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (all.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2));
  return out;
}
