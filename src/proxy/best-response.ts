// Best-response selection for a forked request (RFC 3261 16.7 step 6).

/** 4xx codes the RFC says to prefer: the caller can act on them. */
const PREFERRED_4XX = new Set([401, 407, 415, 420, 484]);

/** Lower rank wins. 6xx beats everything; then the lowest class; preferred 4xx within 4xx. */
export function rank(status: number): number {
  if (status >= 600) return 0;
  const cls = Math.floor(status / 100); // 3, 4 or 5
  if (cls === 4) return PREFERRED_4XX.has(status) ? 40 : 41;
  return cls * 10;
}

/** True when `candidate` should replace the best final response so far. */
export function isBetter(candidate: number, best: number | undefined): boolean {
  return best === undefined || rank(candidate) < rank(best);
}
