/**
 * An open-addressing hash map from a pair of non-negative int32 ids to an int32 value. Token pairs are the hot key of
 * both encoding and training; a JS Map would need a combined key that is not a small integer (slow) or a string.
 */
export class PairTable {
  private left: Int32Array;
  private right: Int32Array;
  private values: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  private slot(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** The value stored for (a, b), or -1. */
  get(a: number, b: number): number {
    const left = this.left;
    for (let i = this.slot(a, b); ; i = (i + 1) & this.mask) {
      const k = left[i]!;
      if (k === -1) return -1;
      if (k === a && this.right[i] === b) return this.values[i]!;
    }
  }

  set(a: number, b: number, value: number): void {
    if ((this.size + 1) * 2 > this.left.length) this.grow();
    const left = this.left;
    for (let i = this.slot(a, b); ; i = (i + 1) & this.mask) {
      const k = left[i]!;
      if (k === -1) {
        left[i] = a;
        this.right[i] = b;
        this.values[i] = value;
        this.size++;
        return;
      }
      if (k === a && this.right[i] === b) {
        this.values[i] = value;
        return;
      }
    }
  }

  private grow(): void {
    const { left, right, values } = this;
    const capacity = left.length * 2;
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let i = 0; i < left.length; i++) if (left[i] !== -1) this.set(left[i]!, right[i]!, values[i]!);
  }
}
