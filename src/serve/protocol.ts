/**
 * What the OpenAI endpoints share: the handler context, the sampling parameters common to chat and completions
 * requests, the context-length budget, error mapping (queue full → 429, timeout → 504, errors inside a stream),
 * usage counts, ids and fingerprints, and running a job with its metrics.
 */
import { randomBytes } from 'node:crypto';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { QueueFullError } from '../infer/scheduler.js';
import type { SamplingOptions } from '../infer/sampler.js';
import { KolmError } from '../util/errors.js';
import type { Engine, Job, JobResult } from './engine.js';
import type { ServerMetrics } from './metrics.js';
import { ApiError, Fields, invalid } from './validate.js';

export interface Sse {
  send(data: unknown): void;
  end(): void;
}

export interface Context {
  engine: Engine;
  modelId: string;
  created: number;
  signal: AbortSignal;
  started: number;
  metrics: ServerMetrics;
  /** Chat template keyword arguments for every request (`kolm serve --chat-template-kwargs`); a request's own override them key by key. */
  chatTemplateKwargs?: Readonly<Record<string, unknown>>;
  /** Start the event-stream response. */
  openStream(): Sse;
}

/** A JSON reply, or nothing when the handler streamed its answer itself. */
export type Reply = { status: number; body: unknown } | undefined;

export const SAMPLING_FIELDS = ['temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty', 'presence_penalty', 'frequency_penalty', 'seed'];

export const id = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;

export interface Common {
  sampling: SamplingOptions;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  logitBias: Map<number, number> | undefined;
  ignoreEos: boolean;
}

export function checkModel(ctx: Context, f: Fields): void {
  const model = f.string('model', { required: true })!;
  if (model !== ctx.modelId) throw new ApiError(404, `The model '${model}' does not exist; this server serves '${ctx.modelId}'`, 'model', 'model_not_found');
}

export function common(f: Fields, vocab: number): Common {
  const n = f.integer('n', { min: 1 });
  if (n !== undefined && n !== 1) throw invalid('n', 'Only n=1 is supported', 'unsupported_value');
  const streamOptions = f.object('stream_options');
  streamOptions?.only(['include_usage', 'continuous_usage_stats']);
  const stream = f.boolean('stream') ?? false;
  if (streamOptions && !stream) throw invalid('stream_options', "'stream_options' is only allowed when 'stream' is true", 'invalid_value');
  const stopRaw = f.raw('stop');
  let stop: string[] = [];
  if (typeof stopRaw === 'string') stop = [stopRaw];
  else if (Array.isArray(stopRaw)) stop = f.array('stop', { max: 16 })!.map((s, i) => {
    if (typeof s !== 'string') throw invalid(`stop[${i}]`, `Invalid type for 'stop[${i}]': expected a string`, 'invalid_type');
    return s;
  });
  else if (stopRaw !== undefined) throw invalid('stop', "Invalid type for 'stop': expected a string or an array of strings", 'invalid_type');
  stop.forEach((s, i) => {
    if (!s) throw invalid(Array.isArray(stopRaw) ? `stop[${i}]` : 'stop', 'Stop strings must not be empty', 'invalid_value');
  });
  let logitBias: Map<number, number> | undefined;
  const bias = f.object('logit_bias');
  if (bias) {
    logitBias = new Map();
    for (const k of Object.keys(bias.value)) {
      const tokenId = Number(k);
      if (!/^\d+$/.test(k) || tokenId >= vocab) throw invalid(`logit_bias.${k}`, `Invalid key in 'logit_bias': ${JSON.stringify(k)} is not a token id (0..${vocab - 1})`, 'invalid_value');
      logitBias.set(tokenId, bias.number(k, { min: -100, max: 100, required: true })!);
    }
  }
  const topK = f.integer('top_k', { min: -1 });
  const seed = f.integer('seed', { min: -(2 ** 53), max: 2 ** 53 });
  return {
    sampling: {
      temperature: f.number('temperature', { min: 0, max: 2 }) ?? 1,
      topP: f.number('top_p', { min: 0, max: 1 }),
      topK: topK !== undefined && topK > 0 ? topK : undefined,
      minP: f.number('min_p', { min: 0, max: 1 }),
      repetitionPenalty: f.number('repetition_penalty', { min: 0.01, max: 10 }),
      presencePenalty: f.number('presence_penalty', { min: -2, max: 2 }),
      frequencyPenalty: f.number('frequency_penalty', { min: -2, max: 2 }),
      seed: seed === undefined ? undefined : Math.abs(seed) % 2 ** 31,
    },
    stop,
    stream,
    includeUsage: streamOptions?.boolean('include_usage') ?? false,
    logitBias,
    ignoreEos: f.boolean('ignore_eos') ?? false,
  };
}

/** Context-length checks; returns the completion budget. */
export function budget(ctx: Context, promptTokens: number, requested: number | undefined, param: string): number {
  const limit = ctx.engine.model.config.max_position_embeddings;
  if (promptTokens >= limit || (requested !== undefined && promptTokens + requested > limit)) {
    const asked = requested === undefined ? '' : `However, you requested ${promptTokens + requested} tokens (${promptTokens} in the ${param}, ${requested} in the completion). `;
    const over = requested === undefined ? `However, your ${param} resulted in ${promptTokens} tokens, leaving no room for a completion. ` : asked;
    throw new ApiError(400, `This model's maximum context length is ${limit} tokens. ${over}Please reduce the length of the ${param} or completion.`, param, 'context_length_exceeded');
  }
  return requested ?? limit - promptTokens;
}

function queueError(err: unknown): never {
  if (err instanceof QueueFullError) throw new ApiError(429, `The server is busy: ${err.message}. Retry shortly.`, null, 'queue_full', 'rate_limit_error', { 'retry-after': '1' });
  if (err instanceof KolmError) throw new ApiError(400, err.message, null, 'invalid_prompt');
  throw err;
}

export function usage(r: { promptTokens: number; completionTokens: number }) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

/** How a client should see a token: its text, or `bytes:\xNN…` when it is not whole UTF-8. */
export function tokenText(tok: Tokenizer, tokenId: number): string {
  const bytes = tok.decodeBytes([tokenId]);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return 'bytes:' + [...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  }
}

/** Runs a job, turning an abort by timeout into 504 and other aborts into "client gone". */
export async function runJob(ctx: Context, job: Job): Promise<JobResult> {
  let result: JobResult;
  try {
    result = await ctx.engine.run({ ...job, signal: ctx.signal });
  } catch (err) {
    queueError(err);
  }
  ctx.metrics.promptTokens.inc({}, result.promptTokens);
  ctx.metrics.generationTokens.inc({}, result.completionTokens);
  if (result.firstTokenAt !== undefined) ctx.metrics.ttft.observe((result.firstTokenAt - ctx.started) / 1e3);
  if (result.finishReason === 'abort') {
    ctx.metrics.cancelled.inc();
    if (ctx.signal.reason === 'timeout') throw new ApiError(504, 'The request timed out before generation finished', null, 'timeout', 'timeout_error');
  }
  return result;
}

export function sendStreamError(sse: Sse, err: unknown): void {
  const e = err instanceof ApiError ? err : new ApiError(500, err instanceof Error ? err.message : String(err));
  sse.send(e.toJSON());
  sse.end();
}

export function fingerprint(ctx: Context): string {
  return `kolm-${ctx.engine.model.tokenizer.hash.slice(0, 10)}`;
}
