// Timer kinds passed to TimerTarget.onTimer. One transaction has at most one timer of each kind armed.

/** A (INVITE client), E (non-INVITE client), G (INVITE server): retransmit, UDP only. */
export const RETRANSMIT = 0;
/** B (INVITE client), F (non-INVITE client), H (INVITE server): give up. */
export const TIMEOUT = 1;
/** D, I, J, K, L, M: linger to absorb retransmissions, then terminate. */
export const LINGER = 2;
/** Timer C (RFC 3261 16.6 step 11), INVITE client transactions of the proxy. */
export const PROXY_C = 3;
/** 64*T1 after our CANCEL without a final response: give the INVITE up (RFC 3261 9.1). */
export const CANCEL_WAIT = 4;

export const TIMER_KINDS = 5;

/** Timer D (RFC 3261 17.1.1.2): at least 32 s on unreliable transports. */
export const DEFAULT_TIMER_D = 32_000;
