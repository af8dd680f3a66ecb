// Every error class anysip throws is defined here, so callers can test with
// instanceof and operators see one vocabulary of failures.

export class AnysipError extends Error {
  /** Stable machine-readable code, e.g. 'SIP_PARSE', 'CONFIG'. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A SIP message (or part of one) that cannot be parsed or is not valid.
 * `status` is the response a server should send when it can answer at all
 * (400 unless a more precise code applies, e.g. 505 for an unknown version).
 * `P` is the type of `partial`: core knows no SIP types, src/sip/parser.ts
 * stores its `SipMessage` there (`instanceof` narrows to `SipParseError<any>`).
 */
export class SipParseError<P = unknown> extends AnysipError {
  readonly status: number;
  /**
   * The message as far as it could be read, when the error was found after
   * the headers were split (unknown version, conflicting Content-Length):
   * enough to answer a request with `status` instead of dropping it.
   */
  partial?: P;
  constructor(message: string, status = 400) {
    super('SIP_PARSE', message);
    this.status = status;
  }
}

/** A stream (TCP/TLS) that cannot be framed into SIP messages: the connection must be closed. */
export class FramingError extends AnysipError {
  constructor(message: string) {
    super('SIP_FRAMING', message);
  }
}

/**
 * A SIP message over a size limit: `transport.max_message_size`, or what one UDP datagram can
 * carry. Answered with 513 Message Too Large (RFC 3261 18.1.1, 21.5.14) where a request can be
 * answered; on a stream the connection is then closed, since the rest cannot be framed.
 */
export class MessageTooLargeError extends AnysipError {
  /** Size of the message in bytes (declared by Content-Length when the body was never read). */
  readonly size: number;
  /** The limit it went over, in bytes. */
  readonly limit: number;
  constructor(message: string, size: number, limit: number) {
    super('SIP_TOO_LARGE', message);
    this.size = size;
    this.limit = limit;
  }
}

/** A configuration problem: always names the offending key and the file it came from. */
export class ConfigError extends AnysipError {
  readonly key: string;
  readonly file: string;
  constructor(file: string, key: string, problem: string) {
    super('CONFIG', `${file}: ${key}: ${problem}`);
    this.key = key;
    this.file = file;
  }
}

/** A destination that could not be reached or resolved when sending. */
export class TransportError extends AnysipError {
  constructor(message: string) {
    super('TRANSPORT', message);
  }
}

/** A route hook module that failed to load or returned something unusable. */
export class RouteHookError extends AnysipError {
  constructor(message: string) {
    super('ROUTE_HOOK', message);
  }
}

/**
 * A cluster bus failure that stops the node, e.g. its node id is already held
 * by a live node of the cluster (`BUS_ID_IN_USE`). Bad frames are never
 * errors: they are counted drops.
 */
export class BusError extends AnysipError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}
