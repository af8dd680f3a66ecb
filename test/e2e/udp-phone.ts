// A hand-written SIP phone over UDP: registers through a proxy, answers
// INVITEs with 200 and BYEs with 200, and places calls that wait for a final
// response. Enough to check where calls to registered users go.

import { createSocket, type Socket } from 'node:dgram';

export interface UdpPhone {
  socket: Socket;
  port: number;
  user: string;
  /** INVITEs answered with 200 so far, and OPTIONS. */
  answered: number;
  options: number;
  /** REGISTER through the proxy at `port`, with its own Call-ID; resolves with the final status. */
  register(proxyPort: number, expires?: number, ms?: number): Promise<number>;
  /** INVITE `user` through the proxy at `port` with a fresh Call-ID; resolves with the final status (and ACKs a 2xx). */
  call(proxyPort: number, user: string, ms?: number): Promise<number>;
  close(): void;
}

function header(msg: string, name: string): string[] {
  const re = new RegExp(`^${name}:\\s*(.*)$`, 'gim');
  return [...msg.matchAll(re)].map((m) => m[1]!.trim());
}

let seq = 0;

/**
 * `advertise`: the address the phone writes in its Via (with rport) and Contact instead of its
 * socket's, as a phone behind a NAT writes its private address.
 */
export async function udpPhone(user: string, domain = 'example.com', advertise?: string): Promise<UdpPhone> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const port = socket.address().port;
  const waiting = new Map<string, (code: number, msg: string) => void>();
  const here = advertise ?? `127.0.0.1:${port}`;
  const rport = advertise ? ';rport' : '';
  const send = (text: string, to: number) => socket.send(Buffer.from(text, 'latin1'), to, '127.0.0.1');

  const transaction = (text: string, branch: string, to: number, ms: number, what: string) =>
    new Promise<{ code: number; msg: string }>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(branch);
        reject(new Error(`${what}: no final response in ${ms} ms`));
      }, ms);
      waiting.set(branch, (code, msg) => {
        clearTimeout(timer);
        waiting.delete(branch);
        resolve({ code, msg });
      });
      send(text, to);
    });

  const phone: UdpPhone = {
    socket,
    port,
    user,
    answered: 0,
    options: 0,
    async register(proxyPort, expires = 300, ms = 3000) {
      const n = ++seq;
      const branch = `z9hG4bK-ureg-${n}-${process.pid}`;
      const text =
        `REGISTER sip:${domain} SIP/2.0\r\nVia: SIP/2.0/UDP ${here}${rport};branch=${branch}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:${user}@${domain}>;tag=r${n}\r\nTo: <sip:${user}@${domain}>\r\nCall-ID: reg-${user}-${n}-${process.pid}\r\n` +
        `CSeq: 1 REGISTER\r\nContact: <sip:${user}@${here}>\r\nExpires: ${expires}\r\nContent-Length: 0\r\n\r\n`;
      return (await transaction(text, branch, proxyPort, ms, `REGISTER ${user}`)).code;
    },
    async call(proxyPort, callee, ms = 3000) {
      const n = ++seq;
      const branch = `z9hG4bK-uinv-${n}-${process.pid}`;
      const callId = `call-${user}-${callee}-${n}-${process.pid}`;
      const common = `From: <sip:${user}@${domain}>;tag=c${n}\r\nCall-ID: ${callId}\r\nMax-Forwards: 70\r\n`;
      const text =
        `INVITE sip:${callee}@${domain} SIP/2.0\r\nVia: SIP/2.0/UDP ${here};branch=${branch}\r\n${common}` +
        `To: <sip:${callee}@${domain}>\r\nCSeq: 1 INVITE\r\nContact: <sip:${user}@${here}>\r\nContent-Length: 0\r\n\r\n`;
      const { code, msg } = await transaction(text, branch, proxyPort, ms, `INVITE ${callee}`);
      if (code >= 200 && code < 300) {
        // The 2xx ACK follows the route set: straight to the callee (no Record-Route in this setup) or via the proxy.
        const rr = header(msg, 'Record-Route');
        const target = header(msg, 'Contact')[0]?.replace(/^<|>.*$/g, '') ?? '';
        const route = rr.length ? rr.reverse().map((r) => `Route: ${r}\r\n`).join('') : '';
        const ack =
          `ACK ${target} SIP/2.0\r\nVia: SIP/2.0/UDP ${here};branch=z9hG4bK-uack-${n}-${process.pid}\r\n${common}` +
          `To: ${header(msg, 'To')[0]}\r\nCSeq: 1 ACK\r\n${route}Content-Length: 0\r\n\r\n`;
        const hop = rr.length ? proxyPort : Number(/:(\d+)/.exec(target.split('@')[1] ?? '')?.[1] ?? proxyPort);
        send(ack, hop);
      }
      return code;
    },
    close: () => socket.close(),
  };

  socket.on('message', (buf) => {
    const msg = buf.toString('latin1');
    if (msg.startsWith('SIP/2.0 ')) {
      const code = Number(msg.slice(8, 11));
      if (code < 200) return;
      const branch = /branch=([^;,\s]+)/i.exec(header(msg, 'Via')[0] ?? '')?.[1] ?? '';
      waiting.get(branch)?.(code, msg);
      return;
    }
    const method = msg.slice(0, msg.indexOf(' '));
    if (method === 'ACK') return;
    if (method === 'INVITE') phone.answered++;
    if (method === 'OPTIONS') phone.options++;
    const to = header(msg, 'To')[0]!;
    const vias = header(msg, 'Via').map((v) => `Via: ${v}\r\n`).join('');
    const rr = header(msg, 'Record-Route').map((v) => `Record-Route: ${v}\r\n`).join('');
    const reply =
      `SIP/2.0 200 OK\r\n${vias}${rr}From: ${header(msg, 'From')[0]}\r\n` +
      `To: ${to.includes('tag=') ? to : `${to};tag=a${++seq}`}\r\nCall-ID: ${header(msg, 'Call-ID')[0]}\r\n` +
      `CSeq: ${header(msg, 'CSeq')[0]}\r\nContact: <sip:${user}@${here}>\r\nContent-Length: 0\r\n\r\n`;
    // Responses go to the top Via's sent-by (received/rport when the proxy added them).
    const top = header(msg, 'Via')[0] ?? '';
    const sentBy = /SIP\/2\.0\/UDP\s+([^;\s]+)/i.exec(top)?.[1] ?? '';
    const viaPort = Number(/rport=(\d+)/.exec(top)?.[1] ?? sentBy.split(':')[1] ?? 5060);
    send(reply, viaPort);
  });
  return phone;
}
