import { ort } from '../runtime/session.js';

/**
 * Per-layer keys and values of a batch in buffers that double when full (up to the most a generation can use, since
 * a decode step reads every slot), so appending a token costs O(1) amortised
 * and a decode step feeds the buffers to ORT without copying them: values [B, Hkv, capacity, D], keys transposed
 * [B, Hkv, D, capacity] (what q·Kᵀ reads without a transpose). Slots past `length` (and the left padding of shorter
 * prompts) are hidden by the attention mask.
 */
export class KvCache {
  private keys: Float32Array[];
  private values: Float32Array[];
  private capacity: number;
  length = 0;

  constructor(
    readonly layers: number,
    readonly batch: number,
    readonly heads: number,
    readonly headDim: number,
    initialCapacity = 64,
    /** Never grow past this many slots (what the generation can use at most): no slots read but never filled. */
    readonly maxCapacity = Infinity,
  ) {
    this.capacity = initialCapacity;
    this.keys = Array.from({ length: layers }, () => new Float32Array(batch * heads * initialCapacity * headDim));
    this.values = Array.from({ length: layers }, () => new Float32Array(batch * heads * initialCapacity * headDim));
  }

  get slots(): number {
    return this.capacity;
  }

  /** Append T new positions from ORT outputs shaped [B, Hkv, T, D]. */
  append(keys: readonly ort.Tensor[], values: readonly ort.Tensor[]): void {
    const t = keys[0]!.dims[2]!;
    this.reserve(this.length + t);
    for (let l = 0; l < this.layers; l++) {
      this.writeTransposed(this.keys[l]!, keys[l]!.data as Float32Array, t);
      this.write(this.values[l]!, values[l]!.data as Float32Array, t);
    }
    this.length += t;
  }

  private write(buffer: Float32Array, fresh: Float32Array, t: number): void {
    const { headDim: d, capacity } = this;
    for (let bh = 0; bh < this.batch * this.heads; bh++) {
      buffer.set(fresh.subarray(bh * t * d, (bh + 1) * t * d), (bh * capacity + this.length) * d);
    }
  }

  private writeTransposed(buffer: Float32Array, fresh: Float32Array, t: number): void {
    const { headDim: d, capacity } = this;
    for (let bh = 0; bh < this.batch * this.heads; bh++) {
      for (let i = 0; i < t; i++) {
        for (let j = 0; j < d; j++) buffer[(bh * d + j) * capacity + this.length + i] = fresh[(bh * t + i) * d + j]!;
      }
    }
  }

  private reserve(needed: number): void {
    if (needed <= this.capacity) return;
    let capacity = this.capacity;
    while (capacity < needed) capacity *= 2;
    capacity = Math.min(capacity, Math.max(needed, this.maxCapacity));
    const d = this.headDim;
    const grow = (old: Float32Array) => {
      const next = new Float32Array(this.batch * this.heads * capacity * d);
      for (let bh = 0; bh < this.batch * this.heads; bh++) next.set(old.subarray(bh * this.capacity * d, (bh * this.capacity + this.length) * d), bh * capacity * d);
      return next;
    };
    // Transposed keys: rows of `capacity` slots per (batch, head, dim).
    const growRows = (old: Float32Array) => {
      const next = new Float32Array(this.batch * this.heads * capacity * d);
      for (let row = 0; row < this.batch * this.heads * d; row++) next.set(old.subarray(row * this.capacity, row * this.capacity + this.length), row * capacity);
      return next;
    };
    this.keys = this.keys.map(growRows);
    this.values = this.values.map(grow);
    this.capacity = capacity;
  }

  /** Views of the whole buffers as ORT tensors (no copy): keys [B, Hkv, D, capacity], values [B, Hkv, capacity, D]. */
  tensors(layer: number): { key: ort.Tensor; value: ort.Tensor } {
    return {
      key: new ort.Tensor('float32', this.keys[layer]!, [this.batch, this.heads, this.headDim, this.capacity]),
      value: new ort.Tensor('float32', this.values[layer]!, [this.batch, this.heads, this.capacity, this.headDim]),
    };
  }
}
