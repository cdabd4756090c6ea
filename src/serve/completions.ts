/** `/v1/completions`: prompts (strings, token ids, or lists of either), echo, legacy log-probabilities, streaming. */
import { getMaxListeners, setMaxListeners } from 'node:events';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { JobResult } from './engine.js';
import { Fields, invalid } from './validate.js';
import { budget, checkModel, common, fingerprint, id, runJob, SAMPLING_FIELDS, sendStreamError, tokenText, usage, type Context, type Reply } from './protocol.js';

const COMPLETION_FIELDS = ['model', 'prompt', 'max_tokens', 'stop', 'n', 'best_of', 'stream', 'stream_options', 'logprobs', 'echo', 'suffix', 'logit_bias', 'user', 'ignore_eos', ...SAMPLING_FIELDS];

function parsePrompts(f: Fields, tok: Tokenizer, vocab: number): number[][] {
  const raw = f.raw('prompt');
  if (raw === undefined) throw invalid('prompt', "Missing required parameter: 'prompt'", 'missing_required_parameter');
  const tokens = (v: unknown[], param: string) =>
    v.map((x, i) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= vocab) throw invalid(`${param}[${i}]`, `Invalid token id in '${param}[${i}]': ${JSON.stringify(x)} (the vocabulary is 0..${vocab - 1})`, 'invalid_value');
      return x;
    });
  let prompts: number[][];
  if (typeof raw === 'string') prompts = [tok.encode(raw, { allowSpecial: true })];
  else if (Array.isArray(raw) && raw.length && raw.every((x) => typeof x === 'number')) prompts = [tokens(raw, 'prompt')];
  else if (Array.isArray(raw) && raw.length) {
    prompts = raw.map((p, i) => {
      if (typeof p === 'string') return tok.encode(p, { allowSpecial: true });
      if (Array.isArray(p)) return tokens(p, `prompt[${i}]`);
      throw invalid(`prompt[${i}]`, `Invalid type for 'prompt[${i}]': expected a string or an array of token ids`, 'invalid_type');
    });
  } else throw invalid('prompt', "Invalid type for 'prompt': expected a string, an array of strings, an array of token ids or an array of such arrays (non-empty)", 'invalid_type');
  if (prompts.length > 256) throw invalid('prompt', 'At most 256 prompts per request', 'array_above_max_length');
  prompts.forEach((p, i) => {
    if (p.length === 0) throw invalid(prompts.length > 1 ? `prompt[${i}]` : 'prompt', 'The prompt is empty', 'invalid_value');
  });
  return prompts;
}

/** `fn` over every item with at most `limit` running at once; results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

export async function completions(ctx: Context, body: unknown): Promise<Reply> {
  const f = Fields.of(body, '');
  f.only(COMPLETION_FIELDS);
  checkModel(ctx, f);
  const tok = ctx.engine.model.tokenizer;
  const vocab = ctx.engine.model.config.vocab_size;
  const prompts = parsePrompts(f, tok, vocab);
  const params = common(f, vocab);
  const maxTokens = f.integer('max_tokens', { min: 0 }) ?? 16;
  const echo = f.boolean('echo') ?? false;
  const logprobs = f.integer('logprobs', { min: 0, max: 20 });
  const bestOf = f.integer('best_of', { min: 1 });
  if (bestOf !== undefined && bestOf !== 1) throw invalid('best_of', 'Only best_of=1 is supported', 'unsupported_value');
  if (f.has('suffix')) throw invalid('suffix', "'suffix' is not supported by this model", 'unsupported_value');
  f.string('user', { allowEmpty: true });
  if (params.stream && echo && logprobs !== undefined) throw invalid('echo', "'echo' with 'logprobs' is not supported when streaming", 'unsupported_value');
  const limits = prompts.map((p, i) => (maxTokens === 0 && p.length <= ctx.engine.model.config.max_position_embeddings ? 0 : budget(ctx, p.length, maxTokens, prompts.length > 1 ? `prompt[${i}]` : 'prompt')));
  const completionId = id('cmpl');
  const created = Math.floor(Date.now() / 1000);

  const legacy = (ids: number[], lps: { logprob: number; top: { id: number; logprob: number }[] }[] | undefined, offset: number, first: boolean): LegacyLogprobs => {
    const out: LegacyLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    const decoder = new TextDecoder();
    let at = offset;
    ids.forEach((tokenId, i) => {
      out.tokens.push(tokenText(tok, tokenId));
      out.text_offset.push(at);
      at += decoder.decode(tok.decodeBytes([tokenId]), { stream: true }).length;
      const lp = first ? (i === 0 ? undefined : lps?.[i - 1]) : lps?.[i];
      out.token_logprobs.push(lp ? lp.logprob : null);
      out.top_logprobs.push(lp ? Object.fromEntries(lp.top.map((t) => [tokenText(tok, t.id), t.logprob])) : null);
    });
    return out;
  };

  // A request's prompts run at most a batch at a time, so a long list (lm-eval batches) never fills the queue itself.
  const inFlight = ctx.engine.scheduler.capacity.maxBatch;
  // Each running prompt listens to the request's signal until it settles: up to `inFlight` listeners at once.
  if (prompts.length > 1) setMaxListeners(Math.max(getMaxListeners(ctx.signal), inFlight + 1), ctx.signal);
  if (!params.stream) {
    const results = await mapLimited(prompts, inFlight, async (prompt, index) => {
      const scored = echo && logprobs !== undefined ? await ctx.engine.scoreTokens(prompt, logprobs) : undefined;
      const r: JobResult = limits[index] === 0
        ? { text: '', ids: [], finishReason: 'length', promptTokens: prompt.length, completionTokens: 0, logprobs: [], firstTokenAt: undefined }
        : await runJob(ctx, { prompt, maxTokens: limits[index]!, sampling: params.sampling, stop: params.stop, ignoreEos: params.ignoreEos, logitBias: params.logitBias, logprobs });
      if (limits[index] === 0) ctx.metrics.promptTokens.inc({}, prompt.length);
      const promptText = echo ? tok.decode(prompt) : '';
      let lp: LegacyLogprobs | null = null;
      if (logprobs !== undefined) {
        const gen = legacy(r.ids, r.logprobs, promptText.length, false);
        if (echo) {
          const head = legacy(prompt, scored, 0, true);
          lp = { tokens: [...head.tokens, ...gen.tokens], token_logprobs: [...head.token_logprobs, ...gen.token_logprobs], top_logprobs: [...head.top_logprobs, ...gen.top_logprobs], text_offset: [...head.text_offset, ...gen.text_offset] };
        } else lp = gen;
      }
      return { r, choice: { index, text: promptText + r.text, logprobs: lp, finish_reason: r.finishReason === 'length' ? 'length' : 'stop' } };
    });
    const total = results.reduce((a, { r }) => ({ promptTokens: a.promptTokens + r.promptTokens, completionTokens: a.completionTokens + r.completionTokens }), { promptTokens: 0, completionTokens: 0 });
    return { status: 200, body: { id: completionId, object: 'text_completion', created, model: ctx.modelId, system_fingerprint: fingerprint(ctx), choices: results.map((x) => x.choice), usage: usage(total) } };
  }

  const sse = ctx.openStream();
  const chunk = (index: number, text: string, finish: string | null, lp: LegacyLogprobs | null = null) => ({
    id: completionId, object: 'text_completion', created, model: ctx.modelId, system_fingerprint: fingerprint(ctx),
    choices: [{ index, text, logprobs: lp, finish_reason: finish }],
  });
  let results: JobResult[];
  try {
    results = await mapLimited(prompts, inFlight, async (prompt, index) => {
      const promptText = echo ? tok.decode(prompt) : '';
      if (promptText) sse.send(chunk(index, promptText, null));
      if (limits[index] === 0) {
        ctx.metrics.promptTokens.inc({}, prompt.length);
        sse.send(chunk(index, '', 'length'));
        return { text: '', ids: [], finishReason: 'length', promptTokens: prompt.length, completionTokens: 0, logprobs: [], firstTokenAt: undefined } satisfies JobResult;
      }
      let offset = promptText.length;
      const r = await runJob(ctx, {
        prompt, maxTokens: limits[index]!, sampling: params.sampling, stop: params.stop, ignoreEos: params.ignoreEos, logitBias: params.logitBias, logprobs,
        onDelta: (text, tokens, lps) => {
          const lp = logprobs === undefined ? null : legacy(tokens, lps, offset, false);
          offset += text.length;
          if (text || lp) sse.send(chunk(index, text, null, lp));
        },
        });
        if (r.finishReason !== 'abort') sse.send(chunk(index, '', r.finishReason === 'length' ? 'length' : 'stop'));
        return r;
    });
  } catch (err) {
    sendStreamError(sse, err);
    return undefined;
  }
  if (results.some((r) => r.finishReason === 'abort')) return undefined;
  if (params.includeUsage) {
    const total = results.reduce((a, r) => ({ promptTokens: a.promptTokens + r.promptTokens, completionTokens: a.completionTokens + r.completionTokens }), { promptTokens: 0, completionTokens: 0 });
    sse.send({ id: completionId, object: 'text_completion', created, model: ctx.modelId, choices: [], usage: usage(total) });
  }
  sse.end();
  return undefined;
}
