/**
 * Fast, dependency-free 32-bit hashing. Everything the pipeline decides at random (splits, sampling, FIM cut points,
 * shuffles) is seeded from these hashes and drawn from util/random, so a build is reproducible from its seed.
 */

/** MurmurHash3's finalizer: a cheap bijective mixer on 32-bit integers. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units, finalized with fmix32 (FNV alone mixes the high bits poorly). */
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

/** Combine two 32-bit values into one well-mixed 32-bit value. */
export function hash2(a: number, b: number): number {
  return fmix32(Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ fmix32(b + 0x7f4a7c15));
}

/** A uniform number in [0, 1) determined by (seed, key). */
export function unitFloat(seed: number, key: number): number {
  return hash2(seed, key) / 4294967296;
}

/** A set of int32 keys (open addressing, linear probing); much faster than Set<number> for hash values. */
export class IntSet {
  private keys: Int32Array;
  private used: Uint8Array;
  private mask: number;
  private shift: number;
  size = 0;

  constructor(capacity = 64) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.keys = new Int32Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  has(key: number): boolean {
    for (let i = Math.imul(key, 0x9e3779b1) >>> this.shift; this.used[i]; i = (i + 1) & this.mask) {
      if (this.keys[i] === key) return true;
    }
    return false;
  }

  add(key: number): void {
    if (this.has(key)) return;
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    while (this.used[i]) i = (i + 1) & this.mask;
    this.keys[i] = key;
    this.used[i] = 1;
    this.size++;
  }

  private grow(): void {
    const { keys, used } = this;
    this.keys = new Int32Array(keys.length * 2);
    this.used = new Uint8Array(keys.length * 2);
    this.mask = this.keys.length - 1;
    this.shift = 32 - Math.log2(this.keys.length);
    this.size = 0;
    for (let i = 0; i < keys.length; i++) if (used[i]) this.add(keys[i]);
  }
}
