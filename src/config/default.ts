// The configuration `anysip start` uses without --config: one node on
// loopback. Kept as YAML text (not an object) so it goes through exactly the
// same validation as a file and can be printed as a starting point.

export const EMBEDDED_DEFAULT_YAML = `# anysip embedded default: a single node on loopback.
node:
  id: 1
  # branch_secret not set: a random secret per process (single node only).

listen:
  - id: udp
    transport: udp
    address: 127.0.0.1
    port: 5060
    role: anycast
  - id: tcp
    transport: tcp
    address: 127.0.0.1
    port: 5060
    role: anycast

timers:
  t1: 500
  t2: 4000
  t4: 5000
  timer_c: 180000

transport:
  tcp_idle_timeout: 120
  max_message_size: 65535

proxy:
  record_route: true
  max_forwards: 70
  domains: []
  proxy_require_supported: []
  udp_mtu_threshold: 1300

registrar:
  enabled: true
  default_expires: 3600
  min_expires: 60
  max_expires: 7200
  max_contacts: 10
  max_clock_skew: 2
  keepalive_interval: 0
  keepalive_nated_only: true
  flow_timer: 0

routes: []

admin:
  address: 127.0.0.1
  port: 8060
  enabled: true

log:
  level: info
`;
