/**
 * Training data loader: windows of seqLen+1 tokens (inputs and shifted targets) from the shards of one split.
 * Window i is a pure function of (seed, i), so the loader's whole state is a counter: `state()` saves it,
 * `restore()` resumes exactly. Each window is one positioned read of (seqLen+1) tokens; shards are never loaded whole.
 */
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { hash2 } from './hash.js';
import { readIndex, readTokens, type ShardIndex, type Split, type TokenDtype } from './shards.js';
import { KolmError } from '../util/errors.js';

export interface LoaderOptions {
  split?: Split;
  /** T: a window is T+1 tokens. */
  seqLen: number;
  /** B: windows per batch. */
  batchSize?: number;
  seed?: number;
  /** 'random' windows anywhere (training) or 'sequential' non-overlapping windows in order (evaluation). */
  order?: 'random' | 'sequential';
}

export interface LoaderState {
  split: Split;
  seqLen: number;
  seed: number;
  order: 'random' | 'sequential';
  /** Windows drawn so far. */
  step: number;
}

export class TokenLoader {
  readonly index: ShardIndex;
  readonly seqLen: number;
  readonly batchSize: number;
  private readonly fds: number[] = [];
  private readonly starts: number[] = []; // cumulative count of window positions before each shard
  private readonly dtype: TokenDtype;
  private readonly buf: Uint16Array | Uint32Array;
  private st: LoaderState;
  /** Number of distinct window positions (random) or windows (sequential) in the split. */
  readonly positions: number;

  constructor(readonly dir: string, opts: LoaderOptions) {
    this.index = readIndex(dir);
    this.seqLen = opts.seqLen;
    this.batchSize = opts.batchSize ?? 1;
    if (!(this.seqLen >= 1)) throw new KolmError('loader: seqLen must be at least 1');
    const split = opts.split ?? 'train';
    const order = opts.order ?? 'random';
    this.st = { split, seqLen: this.seqLen, seed: opts.seed ?? 0, order, step: 0 };
    this.dtype = this.index.dtype;
    this.buf = this.dtype === 'uint16' ? new Uint16Array(this.seqLen + 1) : new Uint32Array(this.seqLen + 1);
    let total = 0;
    for (const shard of this.index.shards) {
      if (shard.split !== split) continue;
      const n = order === 'random' ? shard.tokens - this.seqLen : Math.floor((shard.tokens - 1) / this.seqLen);
      if (n <= 0) continue;
      this.fds.push(openSync(join(dir, shard.file), 'r'));
      this.starts.push(total);
      total += n;
    }
    if (!total) throw new KolmError(`${dir}: no ${split} shard holds ${this.seqLen + 1} tokens`);
    this.positions = total;
  }

  state(): LoaderState {
    return { ...this.st };
  }

  restore(state: LoaderState): void {
    const s = this.st;
    if (state.split !== s.split || state.seqLen !== s.seqLen || state.order !== s.order) {
      throw new KolmError(`loader: saved state is for ${state.split}/${state.order}/T=${state.seqLen}, this loader is ${s.split}/${s.order}/T=${s.seqLen}`);
    }
    this.st = { ...state };
  }

  /** The next window of seqLen+1 tokens. */
  nextWindow(into = new Int32Array(this.seqLen + 1)): Int32Array {
    const i = this.st.step++;
    let pos: number;
    if (this.st.order === 'random') {
      // 53 bits of uniformity, enough for any corpus size.
      const u = (hash2(this.st.seed, i) * 2097152 + (hash2(this.st.seed ^ 0x3c6ef372, i) >>> 11)) / 2 ** 53;
      pos = Math.floor(u * this.positions);
    } else {
      pos = i % this.positions;
    }
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= pos) lo = mid; else hi = mid - 1;
    }
    const within = pos - this.starts[lo];
    const start = this.st.order === 'random' ? within : within * this.seqLen;
    readTokens(this.fds[lo], this.dtype, start, this.seqLen + 1, this.buf);
    into.set(this.buf);
    return into;
  }

  /** batchSize windows as one row-major Int32Array of batchSize × (seqLen+1). */
  nextBatch(into = new Int32Array(this.batchSize * (this.seqLen + 1))): Int32Array {
    const w = this.seqLen + 1;
    for (let b = 0; b < this.batchSize; b++) this.nextWindow(into.subarray(b * w, (b + 1) * w));
    return into;
  }

  close(): void {
    for (const fd of this.fds.splice(0)) closeSync(fd);
  }
}
