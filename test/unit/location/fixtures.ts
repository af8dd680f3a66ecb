// A binding with every field set, as the location tests share it: override what a test is about.

import type { Binding } from '../../../src/location/binding.js';

export function binding(over: Partial<Binding> = {}): Binding {
  return {
    aor: 'sip:alice@example.com',
    contact: 'sip:alice@192.0.2.1:5062;transport=tcp',
    q: 0.5,
    qText: '0.5',
    expiresAt: 1_000_000 + 60_000,
    callId: 'c1',
    cseq: 7,
    path: ['<sip:edge.example.com;lr>'],
    source: { transport: 'tcp', address: '192.0.2.1', port: 5062, socketId: 'sip-tcp', connectionId: 42, node: 3 },
    userAgent: 'phone/1',
    instance: '"<urn:uuid:00000000-0000-0000-0000-000000000001>"',
    regId: 1,
    ...over,
  };
}
