// The admin HTTP API: GET /status, GET /metrics, GET /<view>, POST /<action>.
// It binds loopback unless told otherwise, because it has no authentication.
// Nothing a client sends may throw out of here: a node must never die from
// a bad admin request.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

/** A POST action; it reads its arguments from the query string (`POST /ban?source=192.0.2.9&seconds=600`). */
export type AdminAction = (query: URLSearchParams) => Promise<object>;

/** What a GET view answers: one JSON body, or JSON lines (NDJSON) for what may be large (a dump). */
export type ViewResult = { status?: number; body: object } | { lines: Iterable<object> };
export type AdminView = (query: URLSearchParams) => ViewResult;

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
  /** GET /<name>?<query> answers views[name](query), e.g. location. */
  views?: Record<string, AdminView>;
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
    for (const name of [...this.actions.keys(), ...Object.keys(opts.views ?? {})]) {
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
    const [path = '/', search = ''] = (req.url ?? '/').split('?');
    const method = req.method ?? 'GET';

    if (path === '/status' || path === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD') return this.notAllowed(res, 'GET, HEAD');
      if (path === '/status') return this.json(res, 200, await this.opts.status());
      const body = await this.opts.metrics.text();
      res.writeHead(200, { 'content-type': this.opts.metrics.contentType, 'cache-control': 'no-store' });
      res.end(body);
      return;
    }

    const view = Object.hasOwn(this.opts.views ?? {}, path.slice(1)) ? this.opts.views![path.slice(1)] : undefined;
    if (view) {
      if (method !== 'GET' && method !== 'HEAD') return this.notAllowed(res, 'GET, HEAD');
      return this.answerView(res, view(new URLSearchParams(search)));
    }

    const action = this.actions.get(path.slice(1));
    if (action) {
      if (method !== 'POST') return this.notAllowed(res, 'POST');
      return this.json(res, 200, await action(new URLSearchParams(search)));
    }

    this.json(res, 404, {
      error: 'not found',
      endpoints: [
        'GET /status',
        'GET /metrics',
        ...Object.keys(this.opts.views ?? {}).map((v) => `GET /${v}`),
        ...[...this.actions.keys()].map((a) => `POST /${a}`),
      ],
    });
  }

  /** NDJSON goes out in slices of 1,000 lines, each after the previous one left: memory stays flat for any size. */
  private async answerView(res: ServerResponse, result: ViewResult): Promise<void> {
    if (!('lines' in result)) return this.json(res, result.status ?? 200, result.body);
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
    let slice: string[] = [];
    for (const line of result.lines) {
      slice.push(JSON.stringify(line));
      if (slice.length < 1000) continue;
      if (!res.write(slice.join('\n') + '\n')) {
        await new Promise((r) => {
          res.once('drain', r);
          res.once('close', r);
        });
      }
      slice = [];
      if (res.destroyed) return;
    }
    res.end(slice.length ? slice.join('\n') + '\n' : '');
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
