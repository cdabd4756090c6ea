/**
 * Stage 6: exact deduplication (hash of the case- and whitespace-normalized text) and near-duplicate removal with
 * MinHash over word shingles + LSH banding. The first document seen is kept. Memory per kept document is a few
 * hash-table slots per band plus one byte per permutation (a b-bit MinHash signature used to verify LSH candidates,
 * which removes most band-collision false positives); no text is stored.
 */
import { fmix32 } from './hash.js';

export interface DedupOptions {
  exact: boolean;
  near: boolean;
  /** Words per shingle. */
  shingleSize: number;
  /** MinHash permutations. */
  numPerm: number;
  /** Estimated Jaccard similarity at or above which a document is a near-duplicate. */
  threshold: number;
  /** LSH bands; by default chosen for `threshold` by lshParams. */
  bands?: number;
  seed: number;
}

export const defaultDedup: DedupOptions = { exact: true, near: true, shingleSize: 5, numPerm: 128, threshold: 0.8, seed: 1 };

/**
 * Bands and rows per band for an LSH whose S-curve crosses near `threshold`, minimizing the weighted areas of
 * false positives and false negatives (as datasketch does). Candidates are verified against their signatures,
 * so a false positive costs only a check: false negatives weigh 9 times more by default.
 */
export function lshParams(threshold: number, numPerm: number, falsePositiveWeight = 0.1): { bands: number; rows: number } {
  const area = (a: number, b: number, f: (s: number) => number) => {
    const steps = 200;
    let sum = 0;
    for (let i = 0; i < steps; i++) sum += f(a + ((i + 0.5) * (b - a)) / steps);
    return (sum * (b - a)) / steps;
  };
  let best = { bands: 1, rows: numPerm, error: Infinity };
  for (let b = 1; b <= numPerm; b++) {
    for (let r = 1; r * b <= numPerm; r++) {
      const p = (s: number) => 1 - (1 - s ** r) ** b;
      const error = falsePositiveWeight * area(0, threshold, p) + (1 - falsePositiveWeight) * area(threshold, 1, (s) => 1 - p(s));
      if (error < best.error) best = { bands: b, rows: r, error };
    }
  }
  return { bands: best.bands, rows: best.rows };
}

/** Open-addressing map from 64-bit keys (two uint32 halves) to uint32 values; 12 bytes per slot. */
export class PairMap {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private val: Uint32Array; // value + 1; 0 marks an empty slot
  private mask: number;
  size = 0;

  constructor(capacity = 1 << 16) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  /** The value stored for (hi, lo), or -1. */
  get(hi: number, lo: number): number {
    for (let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask; this.val[i]; i = (i + 1) & this.mask) {
      if (this.hi[i] === hi && this.lo[i] === lo) return this.val[i] - 1;
    }
    return -1;
  }

  /** Store value unless the key is present; returns the value already there, or -1 when it was inserted. */
  insert(hi: number, lo: number, value: number): number {
    if ((this.size + 1) * 2 > this.val.length) this.grow();
    let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask;
    for (; this.val[i]; i = (i + 1) & this.mask) {
      if (this.hi[i] === hi && this.lo[i] === lo) return this.val[i] - 1;
    }
    this.hi[i] = hi; this.lo[i] = lo; this.val[i] = value + 1;
    this.size++;
    return -1;
  }

  get bytes(): number { return this.val.length * 12; }

  private grow(): void {
    const { hi, lo, val } = this;
    const cap = val.length * 2;
    this.hi = new Uint32Array(cap); this.lo = new Uint32Array(cap); this.val = new Uint32Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < val.length; i++) if (val[i]) this.insert(hi[i], lo[i], val[i] - 1);
  }
}

/** Hash each whitespace-separated word (ASCII case folded) into `out`, which must hold text.length/2+1; returns the count. */
function hashWords(text: string, out: Int32Array): number {
  let n = 0, h = 0x811c9dc5, len = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 32;
    if (c === 32 || c === 10 || c === 9 || c === 13) {
      if (len) { out[n++] = fmix32(h) | 0; h = 0x811c9dc5; len = 0; }
      continue;
    }
    h = Math.imul(h ^ (c >= 65 && c <= 90 ? c | 32 : c), 0x01000193);
    len++;
  }
  return n;
}

/** Two independent 32-bit hashes of a word-hash sequence. */
function sequenceKey(words: Int32Array, n: number): [number, number] {
  let a = 0x811c9dc5 ^ n, b = 0x2545f491;
  for (let i = 0; i < n; i++) {
    a = Math.imul(a ^ words[i], 0x01000193);
    b = Math.imul(b ^ words[i], 0x5bd1e995) ^ (b >>> 15);
  }
  return [fmix32(a), fmix32(b)];
}

/** Exact-duplicate key: the text's words with ASCII case folded, so whitespace and case differences do not count. */
export function exactKey(text: string): [number, number] {
  const words = new Int32Array(Math.ceil(text.length / 2) + 1);
  return sequenceKey(words, hashWords(text, words));
}

export interface Fingerprint {
  exact: [number, number];
  signature: Int32Array;
}

export class Deduplicator {
  readonly rows: number;
  readonly bands: number;
  private readonly exactSeen = new PairMap();
  private readonly buckets = new PairMap();
  private readonly permA: Int32Array;
  private readonly permB: Int32Array;
  private shingles = new Int32Array(1 << 16);
  private signatures = new Uint8Array(1 << 20);
  private docs = 0;
  private words = new Int32Array(1 << 16);
  private readonly sig: Int32Array;

  constructor(readonly opts: DedupOptions = defaultDedup) {
    const p = opts.bands ? { bands: opts.bands, rows: Math.floor(opts.numPerm / opts.bands) } : lshParams(opts.threshold, opts.numPerm);
    this.bands = p.bands;
    this.rows = p.rows;
    this.permA = new Int32Array(opts.numPerm);
    this.permB = new Int32Array(opts.numPerm);
    for (let i = 0; i < opts.numPerm; i++) {
      this.permA[i] = fmix32(Math.imul(opts.seed, 0x9e3779b1) + 2 * i + 1) | 1;
      this.permB[i] = fmix32(Math.imul(opts.seed, 0x85ebca6b) + 2 * i + 2);
    }
    this.sig = new Int32Array(opts.numPerm);
  }

  /** 'exact' or 'near' when `text` duplicates an earlier document; otherwise records it and returns undefined. */
  check(text: string): 'exact' | 'near' | undefined {
    return this.decide(this.fingerprint(text));
  }

  /**
   * The hashes `decide` needs, computed from the text alone (no state), so it can run in a worker thread.
   * The signature is a copy; an empty one means "no words" (never a near-duplicate).
   */
  fingerprint(text: string): Fingerprint {
    const n = this.wordsOf(text);
    return { exact: sequenceKey(this.words, n), signature: this.opts.near ? this.signatureOfWords(n).slice() : new Int32Array(0) };
  }

  /** Check a fingerprint against every document kept so far, in order; keeps it when it is new. */
  decide(f: Fingerprint): 'exact' | 'near' | undefined {
    if (this.opts.exact && this.exactSeen.insert(f.exact[0], f.exact[1], 0) >= 0) return 'exact';
    return this.opts.near && f.signature.length && this.nearDuplicate(f.signature) ? 'near' : undefined;
  }

  /** MinHash signature of the text's word shingles (exposed for tests); empty when the text has no words. */
  signature(text: string): Int32Array {
    return this.signatureOfWords(this.wordsOf(text));
  }

  private wordsOf(text: string): number {
    if (this.words.length < text.length / 2 + 1) this.words = new Int32Array(Math.ceil(text.length / 2) + 1);
    return hashWords(text, this.words);
  }

  /** Signature from the first n hashes in this.words. */
  private signatureOfWords(n: number): Int32Array {
    const k = Math.min(this.opts.shingleSize, n);
    const count = n ? n - k + 1 : 0;
    if (this.shingles.length < count) this.shingles = new Int32Array(count * 2);
    const sh = this.shingles;
    for (let i = 0; i < count; i++) {
      let x = k;
      for (let j = 0; j < k; j++) x = Math.imul(x ^ this.words[i + j], 0x9e3779b1) ^ (x >>> 16);
      sh[i] = fmix32(x) | 0;
    }
    // The permutation trick: one strong hash per shingle, then permutation p is x -> a_p * x + b_p (mod 2^32),
    // a bijection for odd a_p. Signed int32 arithmetic keeps V8 on small integers; the order is still a permutation.
    const sig = this.sig;
    if (!count) return sig.subarray(0, 0);
    const A = this.permA, B = this.permB;
    let p = 0;
    // Four permutations per pass over the shingles: independent min chains run in parallel on the CPU (≈2× faster).
    for (; p + 4 <= sig.length; p += 4) {
      const a0 = A[p], a1 = A[p + 1], a2 = A[p + 2], a3 = A[p + 3];
      const b0 = B[p], b1 = B[p + 1], b2 = B[p + 2], b3 = B[p + 3];
      let m0 = 0x7fffffff, m1 = m0, m2 = m0, m3 = m0;
      for (let i = 0; i < count; i++) {
        const x = sh[i];
        const v0 = (Math.imul(a0, x) + b0) | 0, v1 = (Math.imul(a1, x) + b1) | 0;
        const v2 = (Math.imul(a2, x) + b2) | 0, v3 = (Math.imul(a3, x) + b3) | 0;
        if (v0 < m0) m0 = v0;
        if (v1 < m1) m1 = v1;
        if (v2 < m2) m2 = v2;
        if (v3 < m3) m3 = v3;
      }
      sig[p] = m0; sig[p + 1] = m1; sig[p + 2] = m2; sig[p + 3] = m3;
    }
    for (; p < sig.length; p++) {
      let m = 0x7fffffff;
      for (let i = 0; i < count; i++) {
        const v = (Math.imul(A[p], sh[i]) + B[p]) | 0;
        if (v < m) m = v;
      }
      sig[p] = m;
    }
    return sig;
  }

  private nearDuplicate(sig: Int32Array): boolean {
    const { rows, bands } = this;
    const id = this.docs;
    const keys = new Uint32Array(bands * 2);
    for (let b = 0; b < bands; b++) {
      let h1 = b + 1, h2 = 0x6a09e667 ^ b;
      for (let r = b * rows; r < (b + 1) * rows; r++) {
        h1 = Math.imul(h1 ^ sig[r], 0x9e3779b1) ^ (h1 >>> 15);
        h2 = Math.imul(h2 ^ sig[r], 0x85ebca6b) ^ (h2 >>> 13);
      }
      keys[2 * b] = fmix32(h1);
      keys[2 * b + 1] = fmix32(h2);
      const other = this.buckets.get(keys[2 * b], keys[2 * b + 1]);
      if (other >= 0 && this.similarity(sig, other) >= this.opts.threshold) return true;
    }
    for (let b = 0; b < bands; b++) this.buckets.insert(keys[2 * b], keys[2 * b + 1], id);
    this.storeSignature(sig, id);
    this.docs++;
    return false;
  }

  /** Jaccard estimate from 8-bit signature bytes, corrected for chance byte collisions (b-bit MinHash). */
  private similarity(sig: Int32Array, other: number): number {
    const m = sig.length;
    const base = other * m;
    let same = 0;
    for (let i = 0; i < m; i++) if ((sig[i] & 0xff) === this.signatures[base + i]) same++;
    return (same / m - 1 / 256) / (1 - 1 / 256);
  }

  private storeSignature(sig: Int32Array, id: number): void {
    const m = sig.length;
    if ((id + 1) * m > this.signatures.length) {
      const next = new Uint8Array(this.signatures.length * 2);
      next.set(this.signatures);
      this.signatures = next;
    }
    for (let i = 0; i < m; i++) this.signatures[id * m + i] = sig[i] & 0xff;
  }

  /** Approximate bytes held for deduplication state. */
  get memoryBytes(): number {
    return this.exactSeen.bytes + this.buckets.bytes + this.signatures.length;
  }
}
