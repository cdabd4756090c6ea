/**
 * Any OpenAI-compatible `/v1/completions` endpoint as an evaluation backend, the way lm-eval's `local-completions`
 * uses one: log-likelihoods come from `echo: true, logprobs: 1, max_tokens: 1` (the prompt's own token log-probs),
 * generation from a plain completion with `stop`.
 *
 * With a tokenizer (`tokenizer` option: the model's own, e.g. its kolm folder) prompts are sent as token ids and
 * the continuation is located by token count, exactly as lm-eval does. Without one, prompts are sent as text and the
 * continuation tokens are those whose `text_offset` lies at or after the end of the context (code points).
 */
import { KolmError } from '../util/errors.js';
import { encodeRequest, rollingWindows, truncateForGeneration, type Backend, type GenerationRequest, type LoglikelihoodRequest, type LoglikelihoodResult, type Progress, type TokenCodec } from './backend.js';

export interface OpenAIBackendOptions {
  /** Base URL, e.g. http://localhost:8000/v1 (a URL ending in /completions is accepted too). */
  baseUrl: string;
  /** `model` field of the requests (default: the first id listed by GET /models, else "default"). */
  model?: string;
  /** Send token ids and split by token count (lm-eval's tokenized_requests). */
  tokenizer?: TokenCodec;
  /** Token conditioning an empty context (BOS/EOS) in token mode. */
  prefixToken?: number;
  /** Context length for truncation in token mode (default 2048). */
  maxLength?: number;
  apiKey?: string;
  /** Prompts per request (default 16). */
  batchSize?: number;
  maxRetries?: number;
  timeoutMs?: number;
  seed?: number;
}

interface Choice {
  index: number;
  text: string;
  logprobs?: { tokens?: string[]; token_logprobs?: (number | null)[]; top_logprobs?: (Record<string, number> | null)[]; text_offset?: number[] } | null;
}

const cpLength = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

export class OpenAICompletionsBackend implements Backend {
  readonly name: string;
  readonly info: Record<string, unknown>;
  private readonly url: string;
  private model: string | undefined;

  constructor(private readonly opts: OpenAIBackendOptions) {
    let base = opts.baseUrl.replace(/\/+$/, '');
    if (base.endsWith('/completions')) base = base.slice(0, -'/completions'.length);
    this.url = base;
    this.model = opts.model;
    this.name = opts.model ?? new URL(base).host;
    this.info = { backend: 'openai-completions', base_url: base, model: opts.model, tokenized_requests: Boolean(opts.tokenizer), max_length: opts.maxLength ?? 2048 };
  }

  private get maxLength(): number {
    return this.opts.maxLength ?? 2048;
  }

  private async modelName(): Promise<string> {
    if (this.model) return this.model;
    try {
      const r = await this.http('GET', '/models');
      const id = (r as { data?: { id?: string }[] }).data?.[0]?.id;
      this.model = id ?? 'default';
    } catch {
      this.model = 'default';
    }
    this.info['model'] = this.model;
    return this.model;
  }

  private async http(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const retries = this.opts.maxRetries ?? 3;
    const apiKey = this.opts.apiKey ?? process.env['OPENAI_API_KEY'];
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
      let res: Response;
      try {
        res = await fetch(this.url + path, {
          method,
          headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 600_000),
        });
      } catch (e) {
        lastError = e;
        continue;
      }
      const text = await res.text();
      if (res.status >= 500 || res.status === 429) {
        lastError = new KolmError(`${method} ${this.url + path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
        continue;
      }
      if (!res.ok) throw new KolmError(`${method} ${this.url + path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
      try {
        return JSON.parse(text);
      } catch {
        throw new KolmError(`${method} ${this.url + path}: response is not JSON: ${text.slice(0, 200)}`);
      }
    }
    throw lastError instanceof KolmError ? lastError : new KolmError(`${method} ${this.url + path}: ${(lastError as Error)?.message ?? 'request failed'}`);
  }

  private async complete(prompts: (string | number[])[], params: Record<string, unknown>): Promise<Choice[]> {
    const res = (await this.http('POST', '/completions', { model: await this.modelName(), prompt: prompts, ...params })) as { choices?: Choice[] };
    if (!Array.isArray(res.choices) || res.choices.length !== prompts.length) {
      throw new KolmError(`POST ${this.url}/completions: expected ${prompts.length} choices, got ${Array.isArray(res.choices) ? res.choices.length : 'none'}`);
    }
    return [...res.choices].sort((a, b) => a.index - b.index);
  }

  private async echo(prompts: (string | number[])[]): Promise<Choice[]> {
    const choices = await this.complete(prompts, { temperature: 0, max_tokens: 1, logprobs: 1, echo: true, seed: this.opts.seed ?? 1234 });
    for (const c of choices) {
      if (!c.logprobs?.token_logprobs || !c.logprobs.top_logprobs) {
        throw new KolmError(`POST ${this.url}/completions: no logprobs in the response; log-likelihood tasks need a server that supports echo: true with logprobs`);
      }
    }
    return choices;
  }

  private static sum(choice: Choice, from: number, to: number): LoglikelihoodResult {
    const lps = choice.logprobs!.token_logprobs!;
    const tops = choice.logprobs!.top_logprobs!;
    let logprob = 0;
    let isGreedy = true;
    for (let i = from; i < to; i++) {
      const lp = lps[i];
      if (typeof lp !== 'number') throw new KolmError(`completions response: token ${i} has no log-probability`);
      logprob += lp;
      const top = tops[i];
      if (top && Object.keys(top).length && lp !== Math.max(...Object.values(top))) isGreedy = false;
    }
    return { logprob, isGreedy };
  }

  /** Token-id requests: lm-eval's batch_loglikelihood_requests + parse_logprobs. */
  private async scoreTokenPairs(pairs: [number[], number[]][], progress?: Progress): Promise<LoglikelihoodResult[]> {
    const size = this.opts.batchSize ?? 16;
    const out: LoglikelihoodResult[] = [];
    for (let s = 0; s < pairs.length; s += size) {
      const chunk = pairs.slice(s, s + size).map(([ctx, cont]) => {
        const full = [...ctx, ...cont];
        const inp = full.slice(-this.maxLength);
        const ctxlen = ctx.length - Math.max(0, full.length - this.maxLength);
        return { inp, ctxlen };
      });
      const choices = await this.echo(chunk.map((c) => c.inp));
      choices.forEach((ch, i) => out.push(OpenAICompletionsBackend.sum(ch, chunk[i]!.ctxlen, chunk[i]!.inp.length)));
      progress?.(out.length);
    }
    return out;
  }

  async loglikelihood(requests: readonly LoglikelihoodRequest[], progress?: Progress): Promise<LoglikelihoodResult[]> {
    const tok = this.opts.tokenizer;
    if (tok) return this.scoreTokenPairs(requests.map((r) => encodeRequest(tok, this.opts.prefixToken ?? 0, r)), progress);
    const size = this.opts.batchSize ?? 16;
    const out: LoglikelihoodResult[] = [];
    for (let s = 0; s < requests.length; s += size) {
      const chunk = requests.slice(s, s + size).map((r) => {
        const n = r.context.length - r.context.trimEnd().length;
        const context = r.context.slice(0, r.context.length - n);
        const continuation = r.context.slice(r.context.length - n) + r.continuation;
        return { prompt: context + continuation, ctxChars: cpLength(context), promptChars: cpLength(context + continuation) };
      });
      const choices = await this.echo(chunk.map((c) => c.prompt));
      choices.forEach((ch, i) => {
        const { ctxChars, promptChars } = chunk[i]!;
        const offsets = ch.logprobs!.text_offset;
        if (!offsets) throw new KolmError(`POST ${this.url}/completions: no text_offset in logprobs; pass a tokenizer to send token ids instead`);
        let from = offsets.findIndex((o) => o >= ctxChars);
        let to = offsets.findIndex((o) => o >= promptChars);
        if (to < 0) to = offsets.length;
        if (from < 0 || from >= to) from = Math.max(0, to - 1);
        // The first prompt token has no log-probability (nothing conditions it).
        if (from === 0 && ch.logprobs!.token_logprobs![0] === null) from = 1;
        out.push(OpenAICompletionsBackend.sum(ch, from, to));
      });
      progress?.(out.length);
    }
    return out;
  }

  async loglikelihoodRolling(texts: readonly string[], progress?: Progress): Promise<number[]> {
    const tok = this.opts.tokenizer;
    if (tok) {
      const windows = texts.map((t) => rollingWindows(tok.encode(t), this.opts.prefixToken ?? 0, this.maxLength));
      const scores = await this.scoreTokenPairs(windows.flat());
      const totals = new Array<number>(texts.length).fill(0);
      let j = 0;
      windows.forEach((ws, i) => ws.forEach(() => (totals[i]! += scores[j++]!.logprob)));
      progress?.(texts.length);
      return totals;
    }
    // Text mode: the whole text in one request; its first token is unconditioned and not counted.
    const out: number[] = [];
    const size = this.opts.batchSize ?? 16;
    for (let s = 0; s < texts.length; s += size) {
      const chunk = texts.slice(s, s + size);
      const choices = await this.echo(chunk);
      choices.forEach((ch, i) => {
        const n = cpLength(chunk[i]!);
        const offsets = ch.logprobs!.text_offset ?? [];
        let to = offsets.findIndex((o) => o >= n);
        if (to < 0) to = ch.logprobs!.token_logprobs!.length;
        out.push(OpenAICompletionsBackend.sum(ch, 1, to).logprob);
      });
      progress?.(out.length);
    }
    return out;
  }

  async generateUntil(requests: readonly GenerationRequest[], progress?: Progress): Promise<string[]> {
    const size = this.opts.batchSize ?? 16;
    const tok = this.opts.tokenizer;
    const out = new Array<string>(requests.length);
    const groups = new Map<string, number[]>();
    requests.forEach((r, i) => {
      const key = JSON.stringify([r.until, r.maxGenToks, r.temperature, r.topP ?? 1, r.seed ?? null]);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    let done = 0;
    for (const idx of groups.values()) {
      for (let s = 0; s < idx.length; s += size) {
        const chunk = idx.slice(s, s + size);
        const r0 = requests[chunk[0]!]!;
        const prompts = chunk.map((i) => {
          const ctx = requests[i]!.context;
          if (!tok) return ctx;
          return truncateForGeneration(tok.encode(ctx), r0.maxGenToks, this.maxLength);
        });
        // With token ids the prompt lengths are known: never ask for more than the context leaves.
        const longest = Math.max(...prompts.map((p) => (Array.isArray(p) ? p.length : 0)));
        const choices = await this.complete(prompts, {
          max_tokens: tok ? Math.max(1, Math.min(r0.maxGenToks, this.maxLength - longest)) : r0.maxGenToks,
          temperature: r0.temperature,
          ...(r0.topP !== undefined ? { top_p: r0.topP } : {}),
          ...(r0.until.length ? { stop: r0.until } : {}),
          seed: r0.seed ?? this.opts.seed ?? 1234,
        });
        choices.forEach((c, b) => {
          let text = typeof c.text === 'string' ? c.text : '';
          for (const u of r0.until) if (u && text.includes(u)) text = text.slice(0, text.indexOf(u));
          out[chunk[b]!] = text;
        });
        done += chunk.length;
        progress?.(done);
      }
    }
    return out;
  }
}


