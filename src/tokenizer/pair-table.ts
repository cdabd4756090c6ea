/**
 * An open-addressing hash map from a pair of non-negative int32 ids to an int32 value. Token pairs are the hot key of
 * both encoding and training; a JS Map would need a combined key that is not a small integer (slow) or a string.
 * Each slot's left id, right id and value sit side by side in one array, so a probe reads one cache line.
 */
const STRIDE = 3; // left, right, value

export class PairTable {
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = emptySlots(capacity);
    this.mask = capacity - 1;
  }

  private slot(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** The value stored for (a, b), or -1. */
  get(a: number, b: number): number {
    const slots = this.slots;
    for (let i = this.slot(a, b); ; i = (i + 1) & this.mask) {
      const at = i * STRIDE;
      const k = slots[at]!;
      if (k === -1) return -1;
      if (k === a && slots[at + 1] === b) return slots[at + 2]!;
    }
  }

  set(a: number, b: number, value: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const slots = this.slots;
    for (let i = this.slot(a, b); ; i = (i + 1) & this.mask) {
      const at = i * STRIDE;
      const k = slots[at]!;
      if (k === -1) {
        slots[at] = a;
        slots[at + 1] = b;
        slots[at + 2] = value;
        this.size++;
        return;
      }
      if (k === a && slots[at + 1] === b) {
        slots[at + 2] = value;
        return;
      }
    }
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    this.slots = emptySlots(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let at = 0; at < old.length; at += STRIDE) if (old[at] !== -1) this.set(old[at]!, old[at + 1]!, old[at + 2]!);
  }
}

function emptySlots(capacity: number): Int32Array {
  const slots = new Int32Array(capacity * STRIDE);
  for (let at = 0; at < slots.length; at += STRIDE) slots[at] = -1;
  return slots;
}
