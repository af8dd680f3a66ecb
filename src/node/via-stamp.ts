// RFC 3261 18.2.1 and RFC 3581: the server transport notes where a request
// really came from in its top Via, so responses find their way back through NAT.

import { formatParams } from '../sip/headers.js';
import type { SipMessage } from '../sip/message.js';
import type { Envelope } from '../transport/types.js';

export function stampTopVia(req: SipMessage, env: Envelope): void {
  const via = req.topVia;
  const host = via.host.startsWith('[') ? via.host.slice(1, -1).toLowerCase() : via.host.toLowerCase();
  const wantsRport = via.rport === null;
  // RFC 3581 4: with an empty rport, received is added even when it equals the sent-by host.
  if (!wantsRport && host === env.remote.address.toLowerCase()) return;
  const params = new Map(via.params);
  params.set('received', env.remote.address);
  if (wantsRport) params.set('rport', String(env.remote.port));
  const port = via.port === undefined ? '' : `:${via.port}`;
  req.replaceFirst('via', `${via.protocol}/${via.transport} ${via.host}${port}${formatParams(params)}`);
}
