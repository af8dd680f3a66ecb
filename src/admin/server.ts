// The admin HTTP API: GET /status, GET /metrics, POST /<action>.
// It binds loopback unless told otherwise, because it has no authentication.
// Nothing a client sends may throw out of here: a node must never die from
// a bad admin request.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

export type AdminAction = () => Promise<object>;

export interface AdminServerOptions {
  /** Default 127.0.0.1. */
  address?: string;
  /** 0 = any free port (tests); start() resolves with the one bound. */
  port: number;
  metrics: Metrics;
  /** Body of GET /status. */
  status: () => object | Promise<object>;
  /** POST /<name> runs actions[name] and answers with its result, e.g. drain, undrain. */
  actions?: Record<string, AdminAction>;
}

const RESERVED = new Set(['status', 'metrics']);
const ACTION_NAME = /^[a-z][a-z0-9_-]*$/;

export class AdminServer {
  private readonly opts: AdminServerOptions;
  private readonly actions: Map<string, AdminAction>;
  private server: Server | undefined;

  constructor(opts: AdminServerOptions) {
    this.opts = opts;
    this.actions = new Map(Object.entries(opts.actions ?? {}));
    for (const name of this.actions.keys()) {
      if (RESERVED.has(name) || !ACTION_NAME.test(name)) throw new Error(`admin: invalid action name "${name}"`);
    }
  }

  /** Resolves with the bound port. */
  start(): Promise<number> {
    if (this.server) return Promise.reject(new Error('admin: already started'));
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err));
    });
    // A stuck or slow client must not hold a socket forever.
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        this.server = undefined;
        reject(err);
      };
      server.once('error', onError);
      server.listen(this.opts.port, this.opts.address ?? '127.0.0.1', () => {
        server.off('error', onError);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /** Closes the listener and every open connection. Safe to call when not started. */
  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume(); // bodies are not used; drain so keep-alive works
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';

    if (path === '/status' || path === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD') return this.notAllowed(res, 'GET, HEAD');
      if (path === '/status') return this.json(res, 200, await this.opts.status());
      const body = await this.opts.metrics.text();
      res.writeHead(200, { 'content-type': this.opts.metrics.contentType, 'cache-control': 'no-store' });
      res.end(body);
      return;
    }

    const action = this.actions.get(path.slice(1));
    if (action) {
      if (method !== 'POST') return this.notAllowed(res, 'POST');
      return this.json(res, 200, await action());
    }

    this.json(res, 404, {
      error: 'not found',
      endpoints: ['GET /status', 'GET /metrics', ...[...this.actions.keys()].map((a) => `POST /${a}`)],
    });
  }

  private notAllowed(res: ServerResponse, allow: string): void {
    res.setHeader('allow', allow);
    this.json(res, 405, { error: 'method not allowed', allow });
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body) + '\n';
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(text);
  }

  private fail(res: ServerResponse, err: unknown): void {
    try {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      this.json(res, 500, { error: err instanceof Error ? err.message : String(err) });
    } catch {
      res.destroy();
    }
  }
}
