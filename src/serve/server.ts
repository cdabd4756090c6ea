/**
 * The HTTP server (node:http): routing, API keys, body limits, timeouts, server-sent events, CORS, metrics and the
 * web chat page. The protocol itself is in openai.ts; generation in engine.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { LanguageModel } from '../infer/model.js';
import { Engine } from './engine.js';
import { serverMetrics, type ServerMetrics } from './metrics.js';
import { chatCompletions, completions, detokenize, getModel, listModels, tokenize, type Context, type Reply, type Sse } from './openai.js';
import { ApiError } from './validate.js';
import { checkTemplateKwargs } from '../tokenizer/chat-template.js';

export interface ServeOptions {
  /** Default 127.0.0.1: reachable from this machine only. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** When set, /v1/*, /tokenize and /detokenize need `Authorization: Bearer KEY`. */
  apiKey?: string;
  /** The id clients pass as `model` (default: the model folder's name). */
  modelId?: string;
  /** Sequences decoded together (default 16). */
  maxBatch?: number;
  /** Requests waiting for a free row before 429 (default 64). */
  maxQueue?: number;
  /** Largest request body in bytes (default 8 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Whole-request generation deadline in ms (default 10 minutes); then 504 (or an error event when streaming). */
  requestTimeoutMs?: number;
  /** Time allowed to receive a request's headers and body, in ms (default 30 s); then 408. */
  receiveTimeoutMs?: number;
  /** Serve the web chat page at / (default true). */
  web?: boolean;
  /**
   * Chat template keyword arguments applied to every chat request (vLLM's `--default-chat-template-kwargs`); a
   * request's `chat_template_kwargs` override them key by key.
   */
  chatTemplateKwargs?: Readonly<Record<string, unknown>>;
}

type Handler = (ctx: Context, body: unknown, params: string[]) => Reply | Promise<Reply>;

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  name: string;
  auth: boolean;
  handler: Handler;
}

const ROUTES: Route[] = [
  { method: 'POST', pattern: /^\/v1\/chat\/completions$/, name: 'chat_completions', auth: true, handler: (c, b) => chatCompletions(c, b) },
  { method: 'POST', pattern: /^\/v1\/completions$/, name: 'completions', auth: true, handler: (c, b) => completions(c, b) },
  { method: 'GET', pattern: /^\/v1\/models$/, name: 'models', auth: true, handler: (c) => listModels(c) },
  { method: 'GET', pattern: /^\/v1\/models\/([^/]+)$/, name: 'model', auth: true, handler: (c, _b, p) => getModel(c, decodeURIComponent(p[0]!)) },
  { method: 'POST', pattern: /^\/tokenize$/, name: 'tokenize', auth: true, handler: (c, b) => tokenize(c, b) },
  { method: 'POST', pattern: /^\/detokenize$/, name: 'detokenize', auth: true, handler: (c, b) => detokenize(c, b) },
];

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** The web page's folder: src/serve/web in the package (this module is compiled to <out>/src/serve/). */
export function webDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'web'), resolve(here, '..', '..', '..', 'src', 'serve', 'web')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[1]!;
}

export class KolmServer {
  readonly engine: Engine;
  readonly metrics: ServerMetrics;
  readonly modelId: string;
  private readonly http: Server;
  private readonly keyHash: Buffer | undefined;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly open = new Set<AbortController>();
  private closing = false;

  private constructor(
    readonly model: LanguageModel,
    private readonly opts: ServeOptions,
  ) {
    this.engine = new Engine(model, { maxBatch: opts.maxBatch, maxQueue: opts.maxQueue });
    const s = this.engine.scheduler;
    this.metrics = serverMetrics({ running: () => s.running, waiting: () => s.waiting, decodeSteps: () => s.stats.decodeSteps, decodeRows: () => s.stats.decodeRows });
    this.modelId = opts.modelId ?? basename(resolve(model.dir));
    this.keyHash = opts.apiKey ? sha256(opts.apiKey) : undefined;
    if (opts.chatTemplateKwargs) checkTemplateKwargs(opts.chatTemplateKwargs, 'ServeOptions.chatTemplateKwargs');
    const receive = opts.receiveTimeoutMs ?? 30_000;
    this.http = createServer({
      requestTimeout: receive,
      headersTimeout: Math.min(receive, 20_000),
      // How often Node checks those deadlines (its default, 30 s, would let a slow sender hold a socket that long).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(receive / 2))),
      keepAliveTimeout: 5_000,
    }, (req, res) => {
      void this.handle(req, res);
    });
    // Streams may stay open long; only the receive timeout above applies to a request.
    this.http.timeout = 0;
  }

  /** Start listening; resolves once the port is bound. */
  static async start(model: LanguageModel, opts: ServeOptions = {}): Promise<KolmServer> {
    const server = new KolmServer(model, opts);
    await new Promise<void>((resolveListen, reject) => {
      server.http.once('error', reject);
      server.http.listen(opts.port ?? 8000, opts.host ?? '127.0.0.1', () => {
        server.http.off('error', reject);
        resolveListen();
      });
    });
    return server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    const a = this.http.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  /** Stop accepting connections, cancel running generations, and close. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((r) => this.http.close(() => r()));
    for (const c of this.open) c.abort('shutdown');
    await this.engine.scheduler.close();
    this.http.closeIdleConnections();
    const force = setTimeout(() => this.http.closeAllConnections(), 2000);
    await closed;
    clearTimeout(force);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    let routeName = 'other';
    const controller = new AbortController();
    this.open.add(controller);
    // The response closing before it finished means the client went away: stop its generation.
    res.on('close', () => {
      if (!res.writableFinished) controller.abort('disconnect');
      this.open.delete(controller);
    });
    const deadline = setTimeout(() => controller.abort('timeout'), this.opts.requestTimeoutMs ?? 600_000);
    res.on('close', () => clearTimeout(deadline));
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('x-content-type-options', 'nosniff');
    try {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, OPTIONS',
          'access-control-allow-headers': 'authorization, content-type, x-api-key, openai-organization, openai-project',
          'access-control-max-age': '600',
        });
        res.end();
        return;
      }
      if (this.closing) throw new ApiError(503, 'The server is shutting down', null, 'shutting_down');
      if (req.method === 'GET' && path === '/health') {
        routeName = 'health';
        return this.json(res, 200, { status: 'ok', model: this.modelId, running: this.engine.scheduler.running, waiting: this.engine.scheduler.waiting });
      }
      if (req.method === 'GET' && path === '/metrics') {
        routeName = 'metrics';
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(this.metrics.registry.render());
        return;
      }
      if (req.method === 'GET' && path === '/favicon.ico') {
        routeName = 'web';
        res.writeHead(204);
        res.end();
        return;
      }
      const page = STATIC[path];
      if (page && req.method === 'GET' && this.opts.web !== false) {
        routeName = 'web';
        const body = await readFile(join(webDir(), page.file));
        res.writeHead(200, {
          'content-type': page.type,
          'cache-control': 'no-cache',
          'content-security-policy': "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:",
        });
        res.end(body);
        return;
      }
      let match: RegExpExecArray | null = null;
      const route = ROUTES.find((r) => (match = r.pattern.exec(path)) !== null);
      if (!route) throw new ApiError(404, `Invalid URL (${req.method} ${path})`, null, 'unknown_url');
      routeName = route.name;
      if (req.method !== route.method) throw new ApiError(405, `Method ${req.method} is not allowed for ${path}; use ${route.method}`, null, 'method_not_allowed', 'invalid_request_error', { allow: route.method });
      if (route.auth) this.authorize(req);
      const body = route.method === 'POST' ? await this.readJson(req) : undefined;
      req.socket.setNoDelay(true);
      const ctx: Context = {
        engine: this.engine,
        modelId: this.modelId,
        created: this.created,
        signal: controller.signal,
        started,
        metrics: this.metrics,
        chatTemplateKwargs: this.opts.chatTemplateKwargs,
        openStream: () => this.openStream(res),
      };
      const reply = await route.handler(ctx, body, (match as RegExpExecArray | null)?.slice(1) ?? []);
      if (reply) this.json(res, reply.status, reply.body);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, `Internal error: ${err instanceof Error ? err.message : String(err)}`, null, 'internal_error');
      if (e.status === 500) console.error(err);
      if (!res.headersSent) this.json(res, e.status, e.toJSON(), e.headers);
      else if (!res.writableEnded) res.end();
    } finally {
      const done = () => {
        this.metrics.requests.inc({ route: routeName, status: String(res.statusCode) });
        this.metrics.latency.observe((performance.now() - started) / 1e3, { route: routeName });
      };
      if (res.writableFinished || res.destroyed) done();
      else res.once('close', done);
    }
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private openStream(res: ServerResponse): Sse {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    return {
      send: (data) => {
        if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
      },
      end: () => {
        if (!res.writableEnded && !res.destroyed) res.end('data: [DONE]\n\n');
      },
    };
  }

  private authorize(req: IncomingMessage): void {
    if (!this.keyHash) return;
    const header = req.headers.authorization;
    const given = header?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim() ?? (req.headers['x-api-key'] as string | undefined);
    if (!given) {
      throw new ApiError(401, "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY).", null, 'missing_api_key', 'invalid_request_error', { 'www-authenticate': 'Bearer' });
    }
    if (!timingSafeEqual(sha256(given), this.keyHash)) {
      throw new ApiError(401, 'Incorrect API key provided.', null, 'invalid_api_key', 'invalid_request_error', { 'www-authenticate': 'Bearer' });
    }
  }

  /** The body as JSON, within the size limit (413); malformed or empty JSON is a 400. */
  private readJson(req: IncomingMessage): Promise<unknown> {
    const limit = this.opts.maxBodyBytes ?? 8 * 1024 * 1024;
    const declared = Number(req.headers['content-length']);
    const tooLarge = () => new ApiError(413, `The request body is larger than the limit of ${limit} bytes`, null, 'request_too_large', 'invalid_request_error', { connection: 'close' });
    // Read (and drop) an oversized body up to a hard cap so the client can read the 413; beyond the cap, hang up.
    const hardCap = Math.max(limit * 4, 64 * 1024 * 1024);
    if (Number.isFinite(declared) && declared > hardCap) {
      req.destroy();
      return Promise.reject(tooLarge());
    }
    return new Promise((resolveBody, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > hardCap) {
          req.destroy();
          reject(tooLarge());
          return;
        }
        if (size > limit) over = true;
        else chunks.push(chunk);
      });
      req.on('error', (err) => reject(new ApiError(400, `Could not read the request body: ${err.message}`)));
      req.on('end', () => {
        if (over) return reject(tooLarge());
        const text = Buffer.concat(chunks).toString('utf8');
        if (!text.trim()) return reject(new ApiError(400, 'We could not parse the JSON body of your request: the body is empty. The API expects a JSON payload.', null, 'invalid_json'));
        try {
          resolveBody(JSON.parse(text));
        } catch (err) {
          reject(new ApiError(400, `We could not parse the JSON body of your request (${(err as Error).message}). The API expects a JSON payload.`, null, 'invalid_json'));
        }
      });
    });
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function serve(model: LanguageModel, opts?: ServeOptions): Promise<KolmServer> {
  return KolmServer.start(model, opts);
}
