/**
 * Word → ids cache looked up by a range of a longer string, so a hit costs a hash over the range's char codes and one
 * native compare — no slice, no string hashing by the engine. Cleared when full, which bounds memory and keeps the
 * hot words of a batch.
 */
export class WordCache {
  private slots: Int32Array;
  private mask: number;
  private words: string[] = [];
  private ids: (number | number[])[] = [];
  private hashes: number[] = [];
  /** The hash of the last `find`'s range, reused by `add`. */
  private lastHash = 0;

  constructor(private readonly limit: number) {
    let capacity = 1024;
    while (capacity < limit * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  /** The entry for `text[start, end)`, or -1. */
  find(text: string, start: number, end: number): number {
    let h = 0x811c9dc5 ^ (end - start);
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    h ^= h >>> 15;
    this.lastHash = h;
    const len = end - start;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const e = this.slots[s]! - 1;
      if (e < 0) return -1;
      if (this.hashes[e] === h) {
        const w = this.words[e]!;
        if (w.length === len && text.startsWith(w, start)) return e;
      }
    }
  }

  /** Ids of an entry `find` returned: one id, or several. */
  entry(e: number): number | number[] {
    return this.ids[e]!;
  }

  /** Adds `word` (the range of the last `find`, which missed) with its ids. */
  add(word: string, ids: number | number[]): void {
    if (this.words.length >= this.limit) this.clear();
    const e = this.words.length;
    this.words.push(word);
    this.ids.push(ids);
    this.hashes.push(this.lastHash);
    let s = this.lastHash & this.mask;
    while (this.slots[s] !== 0) s = (s + 1) & this.mask;
    this.slots[s] = e + 1;
  }

  private clear(): void {
    this.slots.fill(0);
    this.words = [];
    this.ids = [];
    this.hashes = [];
  }
}
