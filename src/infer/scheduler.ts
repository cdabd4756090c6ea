/**
 * Continuous batching: requests join and leave one running batch between decode steps.
 *
 * Each admitted request is prefilled (requests that arrive together share one left-padded prefill when their lengths
 * are close), its keys and values are copied into a row of a batched cache, and from then on every decode step runs
 * one new token for every active row. Rows have their own lengths, positions and masks; a finished, stopped or
 * cancelled row leaves the batch at once and the last row moves into its place. Per-row sampling, stop tokens,
 * logit constraints (grammar masks, biases) and callbacks are the caller's; results equal one-by-one `generateIds`.
 */
import type { ModelConfig } from '../model/config.js';
import { decodeFeeds, leftPaddedFeeds } from '../model/feeds.js';
import { pastKey, pastValue, presentKey, presentValue } from '../model/graphs.js';
import { RotaryRows } from '../model/rope.js';
import type { InferenceSessions } from './sessions.js';
import { KolmError } from '../util/errors.js';
import { KvCache } from './kv-cache.js';
import { Sampler, type SamplingOptions } from './sampler.js';

export type FinishReason = 'stop' | 'length' | 'abort';

export interface Generation {
  ids: number[];
  finishReason: FinishReason;
  promptTokens: number;
}

/** A model to generate with: its config and inference sessions (a loaded model, or a policy still training). */
export interface InferenceRuntime {
  config: ModelConfig;
  sessions: InferenceSessions;
}

export interface ScheduledRequest extends SamplingOptions {
  prompt: readonly number[];
  /** New tokens at most (default 128); never more than the context leaves. */
  maxNewTokens?: number;
  /** Generation ends after any of these ids (included in the output, like EOS). */
  stopTokenIds?: readonly number[];
  /** Prompts longer than the context: 'error' (default) or keep the last tokens that fit ('left'). */
  truncate?: 'error' | 'left';
  /**
   * Raw next-token logits (of the first `vocabLimit` ids) before constraints and sampling; the array is reused after
   * the call returns, so copy what you keep (log-probabilities).
   */
  onLogits?: (logits: Float32Array) => void;
  /**
   * Adjust the next-token logits in place before sampling: -Infinity forbids a token (grammar masks), additions bias.
   * `remaining` counts the tokens still allowed, this one included.
   */
  constrain?: (logits: Float32Array, remaining: number) => void;
  /** Each new token; return true to end the sequence here (finish reason 'stop'). */
  onToken?: (id: number) => boolean | void;
  /** Cancels the request (waiting or running); it then resolves with finish reason 'abort'. */
  signal?: AbortSignal;
}

export interface SchedulerOptions {
  /** Rows decoded together at most (default 16); more requests wait in the queue. */
  maxBatch?: number;
  /** Requests waiting for a row at most (default 64); beyond that `submit` rejects with `QueueFullError`. */
  maxQueue?: number;
  /** Padded tokens in one prefill run at most (default 4096); longer prompts are prefilled alone. */
  maxPrefillTokens?: number;
  /** Ids at or above this never get sampled (embedding rows past the tokenizer's vocabulary). */
  vocabLimit?: number;
}

export class QueueFullError extends KolmError {
  override name = 'QueueFullError';
}

/** Counters since the scheduler started (metrics). */
export interface SchedulerStats {
  decodeSteps: number;
  decodeRows: number;
  prefillRuns: number;
  prefillTokens: number;
  generatedTokens: number;
  completed: number;
  cancelled: number;
  /** Most rows decoded together in one step. */
  peakBatch: number;
}

interface Row {
  req: ScheduledRequest;
  prompt: number[];
  history: number[];
  ids: number[];
  sampler: Sampler;
  maxNew: number;
  stopIds: Set<number>;
  /** Cache slots filled (positions 0..length-1). */
  length: number;
  finish: FinishReason | undefined;
  resolve: (g: Generation) => void;
  reject: (err: unknown) => void;
}

export class Scheduler {
  private readonly config: ModelConfig;
  private readonly pending: Row[] = [];
  private readonly active: Row[] = [];
  private readonly cache: KvCache;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly maxPrefillTokens: number;
  private readonly vocabLimit: number;
  private readonly rope: RotaryRows;
  private looping = false;
  private closed = false;
  private scratch = new Float32Array(0);
  readonly stats: SchedulerStats = { decodeSteps: 0, decodeRows: 0, prefillRuns: 0, prefillTokens: 0, generatedTokens: 0, completed: 0, cancelled: 0, peakBatch: 0 };

  constructor(
    private readonly rt: InferenceRuntime,
    opts: SchedulerOptions = {},
  ) {
    this.config = rt.config;
    this.maxBatch = Math.max(1, opts.maxBatch ?? 16);
    this.maxQueue = Math.max(0, opts.maxQueue ?? 64);
    this.maxPrefillTokens = Math.max(1, opts.maxPrefillTokens ?? 4096);
    this.vocabLimit = Math.min(opts.vocabLimit ?? rt.config.vocab_size, rt.config.vocab_size);
    const c = this.config;
    this.cache = new KvCache(c.num_hidden_layers, c.num_key_value_heads, c.head_dim);
    this.rope = new RotaryRows(c);
  }

  /** Sequences in the running batch. */
  get running(): number {
    return this.active.length;
  }

  /** Requests waiting for a row. */
  get waiting(): number {
    return this.pending.length;
  }

  get capacity(): { maxBatch: number; maxQueue: number } {
    return { maxBatch: this.maxBatch, maxQueue: this.maxQueue };
  }

  /**
   * Queue a request. Rejects at once for an invalid prompt (empty, ids outside the vocabulary, longer than the
   * context) and with `QueueFullError` when the queue is full; otherwise resolves when the sequence ends.
   */
  submit(req: ScheduledRequest, label = 'the prompt'): Promise<Generation> {
    return new Promise<Generation>((resolve, reject) => {
      if (this.closed) throw new KolmError('the scheduler is closed');
      const prompt = checkPrompt(this.config, req, label);
      const limit = this.config.max_position_embeddings;
      // Requests queued in this task that free rows will take are not waiting.
      if (this.pending.length >= this.maxQueue + Math.max(0, this.maxBatch - this.active.length)) {
        throw new QueueFullError(`the queue is full (${this.pending.length} requests waiting, ${this.active.length} running)`);
      }
      const onAbort = () => this.wake();
      const row: Row = {
        req,
        prompt,
        history: [...prompt],
        ids: [],
        sampler: new Sampler(req),
        maxNew: Math.max(0, Math.min(req.maxNewTokens ?? 128, limit - prompt.length)),
        stopIds: new Set(req.stopTokenIds ?? []),
        length: 0,
        finish: undefined,
        // Settling removes the abort listener, so a signal shared by many requests does not collect them.
        resolve: (g) => { req.signal?.removeEventListener('abort', onAbort); resolve(g); },
        reject: (err) => { req.signal?.removeEventListener('abort', onAbort); reject(err); },
      };
      if (req.signal?.aborted || row.maxNew === 0) {
        this.settle(row, req.signal?.aborted ? 'abort' : 'length');
        return;
      }
      req.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.push(row);
      this.wake();
    });
  }

  /** Reject every waiting request and cancel the running ones; later submissions are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const row of this.pending.splice(0)) row.reject(new KolmError('the server is shutting down'));
    for (const row of this.active) row.finish ??= 'abort';
    while (this.looping) await new Promise((r) => setImmediate(r));
  }

  /** Start the loop after the current task's submissions, so requests queued together are admitted together. */
  private wake(): void {
    if (this.looping) return;
    this.looping = true;
    queueMicrotask(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        this.dropCancelled();
        if (this.pending.length && this.active.length < this.maxBatch && !this.closed) {
          await this.guard(this.pending.splice(0, this.maxBatch - this.active.length), (rows) => this.admit(rows));
        }
        this.dropCancelled();
        if (this.active.length) await this.guard([...this.active], () => this.step());
        else if (!this.pending.length) break;
      }
    } finally {
      this.looping = false;
    }
    // A request may have arrived while the loop was winding down.
    if (this.pending.length && !this.closed) this.wake();
  }

  /** Runs a stage; an engine failure rejects the rows involved instead of stopping the loop. */
  private async guard(rows: Row[], stage: (rows: Row[]) => Promise<void>): Promise<void> {
    try {
      await stage(rows);
    } catch (err) {
      for (const row of rows) {
        const at = this.active.indexOf(row);
        if (at >= 0) this.removeActive(at);
        if (!row.finish) {
          row.finish = 'abort';
          row.reject(err);
        }
      }
    }
  }

  private dropCancelled(): void {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const row = this.pending[i]!;
      if (row.req.signal?.aborted) {
        this.pending.splice(i, 1);
        this.settle(row, 'abort');
      }
    }
    for (let i = this.active.length - 1; i >= 0; i--) {
      const row = this.active[i]!;
      if (row.req.signal?.aborted) row.finish ??= 'abort';
      if (row.finish) {
        this.removeActive(i);
        this.settle(row, row.finish);
      }
    }
  }

  private removeActive(at: number): void {
    this.cache.removeRow(at);
    const last = this.active.pop()!;
    if (at < this.active.length) this.active[at] = last;
  }

  private settle(row: Row, finish: FinishReason): void {
    row.finish = finish;
    if (finish === 'abort') this.stats.cancelled++;
    else this.stats.completed++;
    row.resolve({ ids: row.ids, finishReason: finish, promptTokens: row.prompt.length });
  }

  /** Prefill newly admitted requests (grouped by similar length) and add the unfinished ones to the batch. */
  private async admit(rows: Row[]): Promise<void> {
    const dynamic = this.config.rope_scaling?.rope_type === 'dynamic';
    const sorted = [...rows].sort((a, b) => a.prompt.length - b.prompt.length);
    const groups: Row[][] = [];
    for (const row of sorted) {
      const group = groups.at(-1);
      const n = row.prompt.length;
      // Sorted ascending, so `n` is the group's padded length if the row joins it.
      const fits = group && !dynamic && (group.length + 1) * n <= this.maxPrefillTokens
        && (group.length + 1) * n <= 1.25 * (group.reduce((s, r) => s + r.prompt.length, 0) + n) + 8;
      if (fits) group.push(row);
      else groups.push([row]);
    }
    for (const group of groups) {
      if (group.every((r) => r.req.signal?.aborted)) {
        for (const r of group) this.settle(r, 'abort');
        continue;
      }
      await this.guard(group, (g) => this.prefill(g));
    }
  }

  private async prefill(group: Row[]): Promise<void> {
    const c = this.config;
    const { T, pad, ...feeds } = leftPaddedFeeds(c, group.map((r) => r.prompt));
    const result = await this.rt.sessions.prefill.run(feeds);
    this.stats.prefillRuns++;
    this.stats.prefillTokens += group.reduce((s, r) => s + r.prompt.length, 0);
    const logits = result['logits']!.data as Float32Array;
    const keys = Array.from({ length: c.num_hidden_layers }, (_, l) => result[presentKey(l)]!.data as Float32Array);
    const values = Array.from({ length: c.num_hidden_layers }, (_, l) => result[presentValue(l)]!.data as Float32Array);
    group.forEach((row, b) => {
      if (row.req.signal?.aborted) {
        this.settle(row, 'abort');
        return;
      }
      this.advance(row, logits.subarray(b * c.vocab_size, (b + 1) * c.vocab_size));
      if (row.finish) {
        this.settle(row, row.finish);
        return;
      }
      this.cache.addRow({ keys, values, batch: b, steps: T, from: pad[b]!, length: row.prompt.length }, Math.max(this.slotLimit(row), ...this.active.map((r) => this.slotLimit(r))));
      row.length = row.prompt.length;
      this.active.push(row);
    });
  }

  /** One decode step for every active row. */
  private async step(): Promise<void> {
    const c = this.config;
    const rows = this.active;
    const B = rows.length;
    this.cache.reserve(Math.max(...rows.map((r) => r.length)) + 1, false, Math.max(...rows.map((r) => this.slotLimit(r))));
    const feeds: Record<string, { dtype: 'float32' | 'int64'; shape: number[]; data: Float32Array | BigInt64Array }> = {
      ...decodeFeeds(c, this.rope, rows.map((r) => r.history.at(-1)!), rows.map((r) => r.length), this.cache.slots),
    };
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const kv = this.cache.feeds(l, B);
      feeds[pastKey(l)] = kv.key;
      feeds[pastValue(l)] = kv.value;
    }
    const result = await this.rt.sessions.decode.run(feeds);
    this.stats.decodeSteps++;
    this.stats.decodeRows += B;
    this.stats.peakBatch = Math.max(this.stats.peakBatch, B);
    this.cache.appendStep(
      Array.from({ length: c.num_hidden_layers }, (_, l) => result[presentKey(l)]!.data as Float32Array),
      Array.from({ length: c.num_hidden_layers }, (_, l) => result[presentValue(l)]!.data as Float32Array),
      rows.map((r) => r.length),
      B,
    );
    const logits = result['logits']!.data as Float32Array;
    rows.forEach((row, b) => {
      row.length++;
      if (row.finish || row.req.signal?.aborted) return;
      this.advance(row, logits.subarray(b * c.vocab_size, (b + 1) * c.vocab_size));
    });
  }

  /** The most cache slots a row can use: its prompt and every generated token but the last. */
  private slotLimit(row: Row): number {
    return row.prompt.length + row.maxNew - 1;
  }

  /**
   * Sample the row's next token from its logits and apply the stop rules. Ids past `vocabLimit` are not offered at
   * all: callbacks and the sampler see the first `vocabLimit` logits, copied into a buffer reused across rows.
   */
  private advance(row: Row, raw: Float32Array): void {
    if (this.scratch.length !== this.vocabLimit) this.scratch = new Float32Array(this.vocabLimit);
    const logits = this.scratch;
    logits.set(raw.subarray(0, this.vocabLimit));
    row.req.onLogits?.(logits);
    row.req.constrain?.(logits, row.maxNew - row.ids.length);
    const id = row.sampler.sample(logits, row.history);
    row.history.push(id);
    row.ids.push(id);
    this.stats.generatedTokens++;
    if (row.stopIds.has(id)) row.finish = 'stop';
    let stop = false;
    try {
      stop = row.req.onToken?.(id) === true;
    } catch (err) {
      row.finish = 'abort';
      row.reject(err);
      return;
    }
    if (stop) row.finish ??= 'stop';
    if (!row.finish && row.ids.length >= row.maxNew) row.finish = 'length';
  }
}

/** Validate a prompt against the model (ids in the vocabulary, room to generate); `label` names it in errors. */
export function checkPrompt(c: ModelConfig, req: ScheduledRequest, label: string): number[] {
  const p = req.prompt;
  const limit = c.max_position_embeddings;
  if (p.length === 0) throw new KolmError(`${label} is empty`);
  for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= c.vocab_size) throw new KolmError(`${label}: token id ${id} is outside the vocabulary (0..${c.vocab_size - 1})`);
  if (p.length < limit) return [...p];
  if (req.truncate === 'left') return p.slice(p.length - (limit - 1));
  throw new KolmError(`${label} has ${p.length} tokens; the model's context is ${limit} (max_position_embeddings), leaving no room to generate. Shorten it or truncate from the left.`);
}
