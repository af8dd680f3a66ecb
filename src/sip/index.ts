// Public API of the SIP message layer.

export { SipMessage, type HeaderField, type StartLine } from './message.js';
export type { CSeq, NameAddr, Params, SipUri, Via } from './types.js';
export { headerKey, isListHeader, splitHeaderList } from './header-names.js';
export { parseMessage, type ParseOptions } from './parser.js';
export {
  formatNameAddr,
  formatParams,
  parseContentLength,
  parseCSeq,
  parseMaxForwards,
  parseNameAddr,
  parseVia,
} from './headers.js';
export { checkHost, formatUri, parsePort, parseUri, unescapeUser, uriEquals } from './uri.js';
export { isRfc1123Gmt, validateRequest, validateResponse, type Rejection } from './validate.js';
export { buildAck, buildCancel, buildResponse, reasonPhrase, type ResponseOptions } from './response.js';
export { buildLocalResponse, ToTagKey } from './local-response.js';
