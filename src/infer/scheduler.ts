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
import { ropeFrequencies, ropeTables, type RopeFrequencies } from '../model/rope.js';
import { ort } from '../runtime/session.js';
import { KolmError } from '../util/errors.js';
import { pastKey, pastValue, presentKey, presentValue } from './graphs.js';
import type { FinishReason, Generation, InferenceRuntime } from './generate.js';
import { Sampler, type SamplingOptions } from './sampler.js';

const MASKED = -1e9;

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
  private readonly cache: BatchCache;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly maxPrefillTokens: number;
  private readonly vocabLimit: number;
  private readonly rope: RopeTable;
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
    this.cache = new BatchCache(c.num_hidden_layers, c.num_key_value_heads, c.head_dim);
    this.rope = new RopeTable(c);
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
  submit(req: ScheduledRequest): Promise<Generation> {
    return new Promise<Generation>((resolve, reject) => {
      if (this.closed) throw new KolmError('the scheduler is closed');
      const prompt = this.checkPrompt(req);
      const limit = this.config.max_position_embeddings;
      if (this.pending.length >= this.maxQueue && this.active.length + this.pending.length >= this.maxBatch) {
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

  private checkPrompt(req: ScheduledRequest): number[] {
    const c = this.config;
    const p = req.prompt;
    const limit = c.max_position_embeddings;
    if (p.length === 0) throw new KolmError('the prompt is empty');
    for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= c.vocab_size) throw new KolmError(`token id ${id} is outside the vocabulary (0..${c.vocab_size - 1})`);
    if (p.length < limit) return [...p];
    if (req.truncate === 'left') return p.slice(p.length - (limit - 1));
    throw new KolmError(`the prompt has ${p.length} tokens; the model's context is ${limit} (max_position_embeddings), leaving no room to generate`);
  }

  private wake(): void {
    if (this.looping) return;
    this.looping = true;
    void this.loop();
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
    const B = group.length;
    const T = Math.max(...group.map((r) => r.prompt.length));
    const pad = group.map((r) => T - r.prompt.length);
    const ids = new BigInt64Array(B * T);
    const mask = new Float32Array(B * T * T).fill(MASKED);
    group.forEach((r, b) => {
      r.prompt.forEach((id, i) => (ids[b * T + pad[b]! + i] = BigInt(id)));
      for (let i = 0; i < T; i++) for (let j = pad[b]!; j <= i; j++) mask[(b * T + i) * T + j] = 0;
    });
    const positions = group.flatMap((_, b) => Array.from({ length: T }, (_, t) => Math.max(0, t - pad[b]!)));
    const { cos, sin } = ropeTables(ropeFrequencies(c, T), positions);
    const dims = [B, 1, T, c.head_dim];
    const result = await this.rt.sessions.prefill.run({
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      mask: new ort.Tensor('float32', mask, [B, 1, T, T]),
      cos: new ort.Tensor('float32', Float32Array.from(cos.data), dims),
      sin: new ort.Tensor('float32', Float32Array.from(sin.data), dims),
    });
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
      this.cache.addRow({ keys, values, batch: b, steps: T, from: pad[b]!, length: row.prompt.length });
      row.length = row.prompt.length;
      this.active.push(row);
    });
  }

  /** One decode step for every active row. */
  private async step(): Promise<void> {
    const c = this.config;
    const rows = this.active;
    const B = rows.length;
    this.cache.reserve(Math.max(...rows.map((r) => r.length)) + 1);
    const C = this.cache.slots;
    const mask = new Float32Array(B * (C + 1)).fill(MASKED); // the cache slots, then the new token
    const input = new BigInt64Array(B);
    const d = c.head_dim;
    const cos = new Float32Array(B * d);
    const sin = new Float32Array(B * d);
    rows.forEach((row, b) => {
      mask.fill(0, b * (C + 1), b * (C + 1) + row.length).fill(0, b * (C + 1) + C, (b + 1) * (C + 1));
      input[b] = BigInt(row.history.at(-1)!);
      this.rope.write(row.length, cos, sin, b * d);
    });
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', input, [B, 1]),
      mask: new ort.Tensor('float32', mask, [B, 1, 1, C + 1]),
      cos: new ort.Tensor('float32', cos, [B, 1, 1, d]),
      sin: new ort.Tensor('float32', sin, [B, 1, 1, d]),
    };
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const kv = this.cache.tensors(l, B);
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

/** cos/sin rows per position, computed once (or per step for dynamic NTK scaling, whose frequencies move). */
class RopeTable {
  private readonly dynamic: boolean;
  private table: { cos: Float32Array; sin: Float32Array } | undefined;
  private freq: RopeFrequencies | undefined;

  constructor(private readonly c: ModelConfig) {
    this.dynamic = c.rope_scaling?.rope_type === 'dynamic';
  }

  write(position: number, cos: Float32Array, sin: Float32Array, at: number): void {
    const d = this.c.head_dim;
    if (this.dynamic) {
      // As one-by-one generation does: frequencies for the sequence length including the new token.
      const t = ropeTables(ropeFrequencies(this.c, position + 1), [position]);
      cos.set(t.cos.data, at);
      sin.set(t.sin.data, at);
      return;
    }
    if (!this.table) {
      this.freq ??= ropeFrequencies(this.c, 1);
      const n = this.c.max_position_embeddings;
      const t = ropeTables(this.freq, Array.from({ length: n }, (_, i) => i));
      this.table = { cos: Float32Array.from(t.cos.data), sin: Float32Array.from(t.sin.data) };
    }
    cos.set(this.table.cos.subarray(position * d, (position + 1) * d), at);
    sin.set(this.table.sin.subarray(position * d, (position + 1) * d), at);
  }
}

/**
 * Keys and values of the running batch, one row per sequence, each row with its own length: values
 * [rows, Hkv, slots, D] and keys transposed [rows, Hkv, D, slots], as the decode graph reads them. Row and slot
 * capacities double when needed (slots halve again when every row is short), and a decode step feeds views of the
 * first `rows` rows without copying.
 */
export class BatchCache {
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  private rowCapacity = 0;
  private slotCapacity = 0;
  private rows = 0;
  private readonly lengths: number[] = [];

  constructor(
    readonly layers: number,
    readonly heads: number,
    readonly headDim: number,
    private readonly minSlots = 64,
  ) {}

  get slots(): number {
    return this.slotCapacity;
  }

  get size(): number {
    return this.rows;
  }

  /** Make room for `slots` positions in every row (and one more row when `extraRow`). */
  reserve(slots: number, extraRow = false): void {
    const rowsNeeded = this.rows + (extraRow ? 1 : 0);
    let rowCap = Math.max(1, this.rowCapacity);
    while (rowCap < rowsNeeded) rowCap *= 2;
    let slotCap = Math.max(this.minSlots, this.slotCapacity);
    while (slotCap < slots) slotCap *= 2;
    // Shrink when every row fits in a quarter: attention reads all slots, so idle capacity costs time each step.
    const longest = Math.max(slots, ...this.lengths);
    while (slotCap > this.minSlots && longest <= slotCap / 4) slotCap /= 2;
    if (rowCap === this.rowCapacity && slotCap === this.slotCapacity) return;
    this.relayout(rowCap, slotCap);
  }

  private relayout(rowCap: number, slotCap: number): void {
    const { heads: h, headDim: d } = this;
    const oldSlots = this.slotCapacity;
    const keep = Math.min(oldSlots, slotCap);
    const nextKeys: Float32Array[] = [];
    const nextValues: Float32Array[] = [];
    for (let l = 0; l < this.layers; l++) {
      const k = new Float32Array(rowCap * h * d * slotCap);
      const v = new Float32Array(rowCap * h * slotCap * d);
      const oldK = this.keys[l];
      const oldV = this.values[l];
      if (oldK && oldV) {
        for (let r = 0; r < this.rows; r++) {
          const n = Math.min(this.lengths[r]!, keep);
          for (let hd = 0; hd < h * d; hd++) {
            const row = r * h * d + hd; // (row, head, dim) line of slots
            k.set(oldK.subarray(row * oldSlots, row * oldSlots + n), row * slotCap);
          }
          for (let hh = 0; hh < h; hh++) {
            const line = r * h + hh;
            v.set(oldV.subarray(line * oldSlots * d, (line * oldSlots + n) * d), line * slotCap * d);
          }
        }
      }
      nextKeys.push(k);
      nextValues.push(v);
    }
    this.keys = nextKeys;
    this.values = nextValues;
    this.rowCapacity = rowCap;
    this.slotCapacity = slotCap;
  }

  /**
   * Add a row from prefill outputs shaped [B, Hkv, T, D]: row `batch`, positions `from`..`from + length - 1`
   * (after its left padding) become slots 0..length-1.
   */
  addRow(src: { keys: Float32Array[]; values: Float32Array[]; batch: number; steps: number; from: number; length: number }): number {
    this.reserve(src.length + 1, true);
    const { heads: h, headDim: d, slotCapacity: C } = this;
    const r = this.rows;
    const T = src.steps;
    for (let l = 0; l < this.layers; l++) {
      const k = this.keys[l]!;
      const v = this.values[l]!;
      const fk = src.keys[l]!;
      const fv = src.values[l]!;
      for (let hh = 0; hh < h; hh++) {
        const srcLine = (src.batch * h + hh) * T;
        const dstLine = r * h + hh;
        v.set(fv.subarray((srcLine + src.from) * d, (srcLine + src.from + src.length) * d), dstLine * C * d);
        for (let i = 0; i < src.length; i++) {
          const at = (srcLine + src.from + i) * d;
          for (let j = 0; j < d; j++) k[(dstLine * d + j) * C + i] = fk[at + j]!;
        }
      }
    }
    this.lengths[r] = src.length;
    this.rows++;
    return r;
  }

  /** Remove row `at`; the last row moves into its place (the caller mirrors the move). */
  removeRow(at: number): void {
    const last = this.rows - 1;
    if (at < 0 || at > last) throw new RangeError(`row ${at} of ${this.rows}`);
    if (at !== last) {
      const n = this.lengths[last]!;
      const { heads: h, headDim: d, slotCapacity: C } = this;
      for (let l = 0; l < this.layers; l++) {
        const k = this.keys[l]!;
        const v = this.values[l]!;
        for (let hd = 0; hd < h * d; hd++) k.copyWithin((at * h * d + hd) * C, (last * h * d + hd) * C, (last * h * d + hd) * C + n);
        for (let hh = 0; hh < h; hh++) v.copyWithin((at * h + hh) * C * d, (last * h + hh) * C * d, ((last * h + hh) * C + n) * d);
      }
      this.lengths[at] = n;
    }
    this.lengths.pop();
    this.rows--;
  }

  /** Write one decode step's new keys/values [B, Hkv, 1, D] at each row's next slot. */
  appendStep(keys: Float32Array[], values: Float32Array[], at: readonly number[], B: number): void {
    const { heads: h, headDim: d, slotCapacity: C } = this;
    for (let l = 0; l < this.layers; l++) {
      const k = this.keys[l]!;
      const v = this.values[l]!;
      const fk = keys[l]!;
      const fv = values[l]!;
      for (let b = 0; b < B; b++) {
        const slot = at[b]!;
        for (let hh = 0; hh < h; hh++) {
          const line = b * h + hh;
          v.set(fv.subarray(line * d, (line + 1) * d), (line * C + slot) * d);
          for (let j = 0; j < d; j++) k[(line * d + j) * C + slot] = fk[line * d + j]!;
        }
      }
    }
    for (let b = 0; b < B; b++) this.lengths[b] = at[b]! + 1;
  }

  /** Views of the first `rows` rows as ORT tensors: keys [rows, Hkv, D, slots], values [rows, Hkv, slots, D]. */
  tensors(layer: number, rows = this.rows): { key: ort.Tensor; value: ort.Tensor } {
    const { heads: h, headDim: d, slotCapacity: C } = this;
    const n = rows * h * d * C;
    return {
      key: new ort.Tensor('float32', this.keys[layer]!.subarray(0, n), [rows, h, d, C]),
      value: new ort.Tensor('float32', this.values[layer]!.subarray(0, n), [rows, h, C, d]),
    };
  }
}
