/**
 * The byte-level BPE model: applies merges to the bytes of one pre-token, lowest merge rank first and leftmost among
 * equals, which is exactly what HF tokenizers' BPE (ignore_merges: false) computes.
 */
import { KolmError } from '../util/errors.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { PairTable } from './pair-table.js';

/** Up to this many bytes a plain scan for the best pair beats a heap (and the quadratic worst case stays small). */
const SCAN_LIMIT = 64;
/** Heap keys pack (rank, position) into one double: rank * POSITION_SPAN + position. */
const POSITION_SPAN = 2 ** 27;

export class BpeModel {
  /** id → token spelling (GPT-2 byte chars). */
  readonly tokens: readonly string[];
  readonly vocab: ReadonlyMap<string, number>;
  /** Merges by rank, as token spellings. */
  readonly merges: readonly (readonly [string, string])[];
  private readonly byteIds = new Int32Array(256);
  private readonly ranks: PairTable;
  private readonly mergedId: Int32Array;
  private sym = new Int32Array(SCAN_LIMIT);
  private pairRank = new Int32Array(SCAN_LIMIT);

  /** `where` prefixes error messages, e.g. the tokenizer.json path. */
  constructor(vocab: ReadonlyMap<string, number>, merges: readonly (readonly [string, string])[], where = 'BPE model') {
    const tokens: string[] = [];
    for (const [token, id] of vocab) tokens[id] = token;
    this.tokens = tokens;
    this.vocab = vocab;
    this.merges = merges;
    for (let b = 0; b < 256; b++) {
      const id = vocab.get(BYTE_TO_CHAR[b]!);
      if (id === undefined) throw new KolmError(`${where}: model.vocab lacks the byte token ${JSON.stringify(BYTE_TO_CHAR[b])} (byte ${b})`);
      this.byteIds[b] = id;
    }
    this.ranks = new PairTable(merges.length);
    this.mergedId = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      const left = vocab.get(a);
      const right = vocab.get(b);
      const merged = vocab.get(a + b);
      if (left === undefined || right === undefined || merged === undefined) {
        const missing = left === undefined ? a : right === undefined ? b : a + b;
        throw new KolmError(`${where}: model.merges[${rank}] "${a} ${b}" uses ${JSON.stringify(missing)}, which is not in model.vocab`);
      }
      if (this.ranks.get(left, right) < 0) this.ranks.set(left, right, rank);
      this.mergedId[rank] = merged;
    });
  }

  /** Appends the ids of `bytes[0..length)` to `out`. */
  encodeBytes(bytes: Uint8Array, length: number, out: number[]): void {
    if (length === 1) {
      out.push(this.byteIds[bytes[0]!]!);
      return;
    }
    if (length > SCAN_LIMIT) {
      this.encodeLong(bytes, length, out);
      return;
    }
    const sym = this.sym;
    const pairRank = this.pairRank;
    const ranks = this.ranks;
    const none = 0x7fffffff;
    for (let i = 0; i < length; i++) sym[i] = this.byteIds[bytes[i]!]!;
    let n = length;
    for (let i = 0; i < n - 1; i++) {
      const r = ranks.get(sym[i]!, sym[i + 1]!);
      pairRank[i] = r < 0 ? none : r;
    }
    for (;;) {
      let best = none;
      let at = -1;
      for (let i = 0; i < n - 1; i++) {
        if (pairRank[i]! < best) {
          best = pairRank[i]!;
          at = i;
        }
      }
      if (at < 0) break;
      sym[at] = this.mergedId[best]!;
      for (let i = at + 1; i < n - 1; i++) {
        sym[i] = sym[i + 1]!;
        pairRank[i] = pairRank[i + 1]!;
      }
      n--;
      if (at > 0) {
        const r = ranks.get(sym[at - 1]!, sym[at]!);
        pairRank[at - 1] = r < 0 ? none : r;
      }
      if (at < n - 1) {
        const r = ranks.get(sym[at]!, sym[at + 1]!);
        pairRank[at] = r < 0 ? none : r;
      }
    }
    for (let i = 0; i < n; i++) out.push(sym[i]!);
  }

  /** Long pre-tokens (runs of spaces, base64 blobs): linked symbols and a min-heap of (rank, position). */
  private encodeLong(bytes: Uint8Array, length: number, out: number[]): void {
    const sym = new Int32Array(length);
    for (let i = 0; i < length; i++) sym[i] = this.byteIds[bytes[i]!]!;
    mergeByRank(sym, this.ranks, this.mergedId, out);
  }
}

/** A binary min-heap of doubles. */
class MinHeap {
  private keys: Float64Array;
  size = 0;

  constructor(capacity = 64) {
    this.keys = new Float64Array(Math.max(capacity, 4));
  }

  push(key: number): void {
    if (this.size === this.keys.length) {
      const grown = new Float64Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    const keys = this.keys;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      i = parent;
    }
    keys[i] = key;
  }

  pop(): number {
    const keys = this.keys;
    const top = keys[0]!;
    const last = keys[--this.size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && keys[child + 1]! < keys[child]!) child++;
      if (keys[child]! >= last) break;
      keys[i] = keys[child]!;
      i = child;
    }
    keys[i] = last;
    return top;
  }
}

/**
 * Apply merges to one pre-token's symbols, lowest rank first and leftmost among equal ranks, with linked symbols and
 * a min-heap of (rank, position) — O(n log n) for long pre-tokens; append the merged ids to `out`. `sym` is consumed.
 */
export function mergeByRank(sym: Int32Array | number[], ranks: PairTable, mergedId: Int32Array, out: number[]): void {
  const n = sym.length;
  if (n >= POSITION_SPAN) throw new KolmError(`a single pre-token of ${n} symbols is too long to encode`);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const heap = new MinHeap(n);
  for (let i = 0; i + 1 < n; i++) {
    const r = ranks.get(sym[i]!, sym[i + 1]!);
    if (r >= 0) heap.push(r * POSITION_SPAN + i);
  }
  while (heap.size > 0) {
    const key = heap.pop();
    const rank = Math.floor(key / POSITION_SPAN);
    const i = key - rank * POSITION_SPAN;
    const j = next[i]!;
    // Stale entries: the symbol was absorbed, or its right neighbour changed since the push.
    if (sym[i]! < 0 || j < 0 || ranks.get(sym[i]!, sym[j]!) !== rank) continue;
    sym[i] = mergedId[rank]!;
    sym[j] = -1;
    next[i] = next[j]!;
    if (next[i]! >= 0) prev[next[i]!] = i;
    if (prev[i]! >= 0) {
      const r = ranks.get(sym[prev[i]!]!, sym[i]!);
      if (r >= 0) heap.push(r * POSITION_SPAN + prev[i]!);
    }
    if (next[i]! >= 0) {
      const r = ranks.get(sym[i]!, sym[next[i]!]!);
      if (r >= 0) heap.push(r * POSITION_SPAN + i);
    }
  }
  if (n > 0) for (let i = 0; i >= 0; i = next[i]!) out.push(sym[i]!);
}
