// Parsed views of the header values the proxy core reads. All strings are
// latin1 "byte strings" (one char per byte) like the rest of src/sip.

/** Generic `;name=value` parameters. Keys are lowercased; a flag parameter has value null. */
export type Params = Map<string, string | null>;

export interface SipUri {
  /** Lowercased: 'sip', 'sips', 'tel', or another absolute-URI scheme. */
  scheme: string;
  /** Still %-escaped as on the wire. Absent for a host-only URI. */
  user?: string;
  password?: string;
  /** Host as written, IPv6 references keep their brackets: '[2001:db8::1]'. Empty for tel:. For tel:, the number is in `user`. */
  host: string;
  port?: number;
  params: Params;
  /** URI headers after '?', raw `name=value` pairs in order. */
  headers: Array<[string, string]>;
}

export interface NameAddr {
  /** Display name without quotes (still escaped), or undefined. */
  displayName?: string;
  /** The URI text between < and > (or the bare addr-spec). */
  uriText: string;
  uri: SipUri;
  /** Header parameters after the URI (tag, expires, q, ...). */
  params: Params;
  /** True for the Contact wildcard '*'. */
  star?: boolean;
}

export interface Via {
  /** 'SIP/2.0' normally. */
  protocol: string;
  /** Uppercased transport token: 'UDP', 'TCP', 'TLS', 'WS', 'WSS', 'SCTP'. */
  transport: string;
  /** sent-by host as written (IPv6 keeps brackets). */
  host: string;
  port?: number;
  params: Params;
  branch?: string;
  received?: string;
  /** undefined: no rport; null: rport present without value; number: filled in. */
  rport?: number | null;
}

export interface CSeq {
  seq: number;
  method: string;
}
