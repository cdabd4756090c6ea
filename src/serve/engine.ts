/**
 * The server's generation engine: one model, one continuous-batching scheduler, and per request the text-level
 * machinery around token generation — UTF-8-safe deltas with stop strings, logit bias, log-probabilities, and grammar
 * masks (for the whole output in JSON mode and forced tool calls, or from a trigger string on for free tool calls).
 */
import { topIndices } from '../infer/sampler.js';
import { Scheduler, type SchedulerOptions } from '../infer/scheduler.js';
import type { LanguageModel } from '../infer/model.js';
import type { FinishReason } from '../infer/generate.js';
import type { SamplingOptions } from '../infer/sampler.js';
import { TextStream } from '../infer/text-stream.js';
import { GrammarMatcher, TokenTrie, type JsonGrammar } from './json-grammar.js';

export interface TokenLogprob {
  id: number;
  logprob: number;
  /** The most likely alternatives, most likely first. */
  top: { id: number; logprob: number }[];
}

export interface Job {
  prompt: number[];
  maxTokens: number;
  sampling: SamplingOptions;
  stop?: readonly string[];
  /** Keep generating through end tokens (benchmarks). */
  ignoreEos?: boolean;
  /** Added to the logits of these token ids. */
  logitBias?: ReadonlyMap<number, number>;
  /** Record each token's log-probability and this many alternatives. */
  logprobs?: number;
  /** The whole output must match this grammar (JSON mode, forced tool calls). */
  grammar?: JsonGrammar;
  /**
   * The grammar takes over after the model writes `trigger` (free tool calls), and again after each match; with
   * `once`, the output ends after the first match (no parallel tool calls).
   */
  lazyGrammar?: { trigger: string; grammar: JsonGrammar; once?: boolean };
  signal?: AbortSignal;
  /** Text that became final, with the tokens generated since the previous call (and their log-probabilities). */
  onDelta?: (text: string, tokens: number[], logprobs: TokenLogprob[]) => void;
}

export interface JobResult {
  text: string;
  ids: number[];
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  logprobs: TokenLogprob[];
  /** performance.now() when the first token was sampled. */
  firstTokenAt: number | undefined;
}

export class Engine {
  readonly scheduler: Scheduler;
  private trieCache: TokenTrie | undefined;
  private readonly special: Set<number>;

  constructor(
    readonly model: LanguageModel,
    opts: SchedulerOptions = {},
  ) {
    this.scheduler = new Scheduler(model, { vocabLimit: model.tokenizer.vocabSize, ...opts });
    this.special = new Set(Object.values(model.tokenizer.specialTokens));
  }

  /** Bytes of an ordinary token (special tokens have none: grammars never produce them). */
  readonly tokenBytes = (id: number): Uint8Array | undefined =>
    id >= this.model.tokenizer.vocabSize || this.special.has(id) ? undefined : this.model.tokenizer.decodeBytes([id]);

  /** The vocabulary as a byte trie (built on first use). */
  get trie(): TokenTrie {
    return (this.trieCache ??= new TokenTrie(this.model.tokenizer.vocabSize, this.tokenBytes));
  }

  matcher(grammar: JsonGrammar): GrammarMatcher {
    return new GrammarMatcher(grammar, this.trie, this.tokenBytes, this.model.endTokenIds);
  }

  async run(job: Job): Promise<JobResult> {
    const tokenizer = this.model.tokenizer;
    const endIds = this.model.endTokenIds;
    const stream = new TextStream(job.stop ?? []);
    const logprobs: TokenLogprob[] = [];
    let sinceDelta: number[] = [];
    let logged = 0;
    let firstTokenAt: number | undefined;
    let raw: Float32Array | undefined;
    let lse = 0;
    let top: TokenLogprob['top'] = [];
    const full = job.grammar ? this.matcher(job.grammar) : undefined;
    const lazy = job.lazyGrammar ? new LazyGrammar(job.lazyGrammar.trigger, () => this.matcher(job.lazyGrammar!.grammar), this.tokenBytes) : undefined;
    const emit = (text: string, force = false) => {
      if (!text && !(force && sinceDelta.length)) return;
      const tokens = sinceDelta;
      sinceDelta = [];
      const lps = logprobs.slice(logged);
      logged = logprobs.length;
      job.onDelta?.(text, tokens, lps);
    };
    const result = await this.scheduler.submit({
      ...job.sampling,
      prompt: job.prompt,
      maxNewTokens: job.maxTokens,
      stopTokenIds: job.ignoreEos && !full ? [] : endIds,
      signal: job.signal,
      onLogits: job.logprobs === undefined ? undefined : (logits) => {
        raw = logits.slice();
        lse = logSumExp(raw);
        top = topK(raw, job.logprobs!).map((id) => ({ id, logprob: raw![id]! - lse }));
      },
      constrain: (logits, remaining) => {
        if (job.logitBias) for (const [id, bias] of job.logitBias) if (id < logits.length) logits[id]! += bias;
        if (full && !full.mask(logits, remaining)) {
          // No continuation fits (a vocabulary without every single byte): end here rather than break the grammar.
          logits.fill(-Infinity);
          for (const id of endIds) logits[id] = 0;
        }
        lazy?.mask(logits, remaining);
      },
      onToken: (id) => {
        firstTokenAt ??= performance.now();
        if (raw) logprobs.push({ id, logprob: raw[id]! - lse, top });
        sinceDelta.push(id);
        let grammarDone = full ? full.accept(id) : false;
        if (lazy?.accept(id) && job.lazyGrammar!.once) grammarDone = true;
        emit(stream.push(tokenizer.decodeBytes([id], { skipSpecial: true })));
        return stream.stopped || grammarDone;
      },
    });
    emit(stream.finish(), true);
    return {
      text: stream.value,
      ids: result.ids,
      finishReason: result.finishReason,
      promptTokens: result.promptTokens,
      completionTokens: result.ids.length,
      logprobs,
      firstTokenAt,
    };
  }

  /** Log-probability rows for every position of `ids` (echo / log-likelihood scoring): row i predicts token i + 1. */
  async scoreTokens(ids: readonly number[], top: number): Promise<{ logprob: number; top: { id: number; logprob: number }[] }[]> {
    const V = this.model.config.vocab_size;
    const logits = await this.model.logits(ids);
    const out: { logprob: number; top: { id: number; logprob: number }[] }[] = [];
    for (let i = 0; i + 1 < ids.length; i++) {
      const row = logits.subarray(i * V, (i + 1) * V);
      const l = logSumExp(row);
      out.push({ logprob: row[ids[i + 1]!]! - l, top: topK(row, top).map((id) => ({ id, logprob: row[id]! - l })) });
    }
    return out;
  }
}

/** A grammar that switches on when the output contains `trigger` and off again when its match completes. */
export class LazyGrammar {
  private readonly trigger: Uint8Array;
  private recent = new Uint8Array(0);
  private active: GrammarMatcher | undefined;

  constructor(
    trigger: string,
    private readonly make: () => GrammarMatcher,
    private readonly bytesOf: (id: number) => Uint8Array | undefined,
  ) {
    this.trigger = new TextEncoder().encode(trigger);
  }

  /** Whether the grammar currently constrains the output. */
  get engaged(): boolean {
    return this.active !== undefined;
  }

  mask(logits: Float32Array, remaining: number): void {
    // Not enough budget left to finish the match: the output is cut (and the call stays unparsed or partial).
    if (this.active && !this.active.mask(logits, remaining)) this.active = undefined;
  }

  /** Advance over a token; true when it completed a match. */
  accept(id: number): boolean {
    if (this.active) {
      const matcher = this.active;
      if (matcher.accept(id)) this.active = undefined;
      return matcher.done;
    }
    const bytes = this.bytesOf(id);
    if (!bytes) return false;
    const joined = new Uint8Array(this.recent.length + bytes.length);
    joined.set(this.recent);
    joined.set(bytes, this.recent.length);
    const end = findEnd(joined, this.trigger, this.recent.length);
    if (end >= 0) {
      const matcher = this.make();
      // Bytes after the trigger in the same token already belong to the match.
      const ok = matcher.acceptBytes(joined.subarray(end));
      this.active = ok && !matcher.done ? matcher : undefined;
      this.recent = new Uint8Array(0);
      return ok && matcher.done;
    }
    this.recent = joined.slice(Math.max(0, joined.length - (this.trigger.length - 1)));
    return false;
  }
}

/** End index of the first occurrence of `needle` in `hay` that ends after `after`; -1 if none. */
function findEnd(hay: Uint8Array, needle: Uint8Array, after: number): number {
  outer: for (let start = 0; start + needle.length <= hay.length; start++) {
    if (start + needle.length <= after) continue;
    for (let j = 0; j < needle.length; j++) if (hay[start + j] !== needle[j]) continue outer;
    return start + needle.length;
  }
  return -1;
}

export function logSumExp(x: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i]! - max);
  return max + Math.log(sum);
}

/** Indices of the k largest values, largest first. */
export const topK = topIndices;
