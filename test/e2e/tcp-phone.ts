// A hand-written SIP phone over one TCP connection: registers, answers
// INVITEs with 200, answers BYE, and records every response it gets. Enough
// for the hostile-traffic tests, where what matters is that its connection
// keeps working while the node is under attack.

import net from 'node:net';
import { StreamFramer } from '../../src/transport/stream-framer.js';

export interface TcpPhone {
  socket: net.Socket;
  /** Sends a REGISTER and resolves with the final status code (rejects after `ms`). */
  register(ms?: number): Promise<number>;
  /** INVITEs answered with 200 so far, ACKs received, and BYEs answered. */
  answered: number;
  acks: number;
  byes: number;
  close(): void;
}

function header(msg: string, name: string): string[] {
  const re = new RegExp(`^${name}:\\s*(.*)$`, 'gim');
  return [...msg.matchAll(re)].map((m) => m[1]!.trim());
}

/**
 * `contactParams`: appended to the Contact header (RFC 5626: `;+sip.instance=...;reg-id=1`); `supported`: a Supported header;
 * `domain`: the domain it registers in (default: the proxy's address).
 */
export async function tcpPhone(o: {
  user: string;
  localAddress: string;
  port: number;
  host?: string;
  contactParams?: string;
  supported?: string;
  domain?: string;
}): Promise<TcpPhone> {
  const host = o.host ?? '127.0.0.1';
  const registrar = o.domain ?? `${host}:${o.port}`;
  const aorHost = o.domain ?? host;
  const socket = net.connect({ host, port: o.port, localAddress: o.localAddress });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const here = `${o.localAddress}:${socket.localPort}`;
  const waiting = new Map<string, (code: number) => void>();
  let cseq = 0;
  const phone: TcpPhone = {
    socket,
    answered: 0,
    acks: 0,
    byes: 0,
    register(ms = 3000) {
      const branch = `z9hG4bK-reg-${++cseq}-${Date.now()}`;
      socket.write(
        `REGISTER sip:${registrar} SIP/2.0\r\nVia: SIP/2.0/TCP ${here};branch=${branch}\r\n` +
          `From: <sip:${o.user}@${aorHost}>;tag=ph-${o.user}\r\nTo: <sip:${o.user}@${aorHost}>\r\n` +
          `Call-ID: reg-${o.user}-${here}\r\nCSeq: ${cseq} REGISTER\r\n` +
          `Contact: <sip:${o.user}@${here};transport=tcp>;expires=300${o.contactParams ?? ''}\r\n` +
          `${o.supported ? `Supported: ${o.supported}\r\n` : ''}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
      );
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(branch);
          reject(new Error(`REGISTER ${cseq} from ${here}: no final response in ${ms} ms`));
        }, ms);
        waiting.set(branch, (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
    close: () => socket.destroy(),
  };
  const answer = (req: string, code: string, extra: string): void => {
    const vias = header(req, 'Via').map((v) => `Via: ${v}\r\n`).join('');
    const rr = header(req, 'Record-Route').map((v) => `Record-Route: ${v}\r\n`).join('');
    const to = header(req, 'To')[0]!;
    socket.write(
      `SIP/2.0 ${code}\r\n${vias}${rr}From: ${header(req, 'From')[0]}\r\n` +
        `To: ${to.includes('tag=') ? to : `${to};tag=ph-${o.user}-${Date.now()}`}\r\n` +
        `Call-ID: ${header(req, 'Call-ID')[0]}\r\nCSeq: ${header(req, 'CSeq')[0]}\r\n${extra}Content-Length: 0\r\n\r\n`,
    );
  };
  const framer = new StreamFramer();
  framer.onMessage = (m) => {
    const msg = m.toString('latin1');
    if (msg.startsWith('SIP/2.0 ')) {
      const code = Number(msg.slice(8, 11));
      if (code < 200) return;
      const branch = /branch=([^;,\s]+)/i.exec(header(msg, 'Via')[0] ?? '')?.[1] ?? '';
      waiting.get(branch)?.(code);
      waiting.delete(branch);
      return;
    }
    const method = msg.slice(0, msg.indexOf(' '));
    if (method === 'INVITE') {
      phone.answered++;
      answer(msg, '200 OK', `Contact: <sip:${o.user}@${here};transport=tcp>\r\n`);
    } else if (method === 'BYE') {
      phone.byes++;
      answer(msg, '200 OK', '');
    } else if (method === 'ACK') {
      phone.acks++;
    } else {
      answer(msg, '200 OK', '');
    }
  };
  socket.on('data', (d: Buffer) => framer.push(d));
  return phone;
}
