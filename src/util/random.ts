/**
 * Seeded random numbers for everything kolm decides at random: weight initialisation, data splits and shuffles,
 * sampling, generated training data. One generator (mulberry32, 32-bit state) serves all of them, so a seed
 * reproduces a model, a corpus or a data mix exactly. Changing the arithmetic here changes every published artefact
 * built from a seed; the tests pin the first numbers of the stream.
 */

/** A uniform source in [0, 1): what samplers, initialisers and the helpers below draw from. */
export type Random = () => number;

/** Mulberry32 with its state exposed (`state`), for callers that draw integers or need to record where they are. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  get state(): number {
    return this.s;
  }
}

/** The generator as a plain function: `rng(seed)()` draws the same numbers as `new Rng(seed).next()`. */
export function rng(seed: number): Random {
  const r = new Rng(seed);
  return () => r.next();
}

/** Uniform integer in [lo, hi], both ends included. */
export function randomInt(lo: number, hi: number, random: Random): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** One element, uniformly. */
export function pick<T>(items: readonly T[], random: Random): T {
  return items[Math.floor(random() * items.length)]!;
}

/** Fisher–Yates in place (last position first, as every seeded stream in kolm was drawn); returns `items`. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(items: T, random: Random): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}
