export type CacheFeed = { dtype: 'float32'; shape: number[]; data: Float32Array };

/**
 * Keys and values of the running batch, one row per sequence, each row with its own length: values
 * [rows, Hkv, slots, D] and keys transposed [rows, Hkv, D, slots], as the decode graph reads them. Row and slot
 * capacities double when needed (slots halve again when every row is short) but never pass `limit`, the most
 * slots the running generations can use — a decode step reads every slot — and a decode step feeds views of the
 * first `rows` rows without copying. Single-prompt generation, batched generation and the serving scheduler all use
 * this one cache.
 */
export class KvCache {
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

  /**
   * Make room for `slots` positions in every row (and one more row when `extraRow`); growth stops at `limit` slots
   * (at least `slots`).
   */
  reserve(slots: number, extraRow = false, limit = Infinity): void {
    const rowsNeeded = this.rows + (extraRow ? 1 : 0);
    let rowCap = Math.max(1, this.rowCapacity);
    while (rowCap < rowsNeeded) rowCap *= 2;
    const longest = Math.max(slots, ...this.lengths);
    let slotCap = Math.max(this.minSlots, this.slotCapacity);
    while (slotCap < slots) slotCap *= 2;
    slotCap = Math.min(slotCap, Math.max(longest, limit));
    // Shrink when every row fits in a quarter: attention reads all slots, so idle capacity costs time each step.
    while (slotCap > this.minSlots && longest <= slotCap / 4) slotCap = Math.max(this.minSlots, Math.ceil(slotCap / 2));
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
  addRow(src: { keys: Float32Array[]; values: Float32Array[]; batch: number; steps: number; from: number; length: number }, limit = Infinity): number {
    this.reserve(src.length + 1, true, limit);
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

  /** Views (no copy) of the first `rows` rows, to feed: keys [rows, Hkv, D, slots], values [rows, Hkv, slots, D]. */
  feeds(layer: number, rows = this.rows): { key: CacheFeed; value: CacheFeed } {
    const { heads: h, headDim: d, slotCapacity: C } = this;
    const n = rows * h * d * C;
    return {
      key: { dtype: 'float32', shape: [rows, h, d, C], data: this.keys[layer]!.subarray(0, n) },
      value: { dtype: 'float32', shape: [rows, h, C, d], data: this.values[layer]!.subarray(0, n) },
    };
  }
}
