/**
 * Stage 7: mixing to target proportions. Targets are shares of training tokens per group of languages
 * (`"en+other"` groups labels). The total is the natural size of the corpus unless `totalTokens` is set, capped so
 * that no group is repeated more than `maxRepeat` times; each group is then up- or down-sampled by a rate, and a
 * source's `weight` multiplies its documents' rate (to up-sample knowledge-rich sources).
 * Copies per document are floor(rate) plus one more with probability frac(rate), decided by a seeded hash.
 * Groups without any data are left out and the remaining targets renormalized.
 */
import { unitFloat } from './hash.js';
import type { Lang } from './types.js';
import { KolmError } from '../util/errors.js';

export interface MixOptions {
  /** Group (labels joined by '+') → share of training tokens. Labels in no group are dropped. */
  targets: Record<string, number>;
  /** Training tokens to produce; by default the natural size of the filtered corpus. */
  totalTokens?: number;
  /** No group is repeated more than this many times (on average). */
  maxRepeat: number;
  /** Fraction of documents held out for validation (chosen by content hash, never repeated). */
  validation: number;
}

export const defaultMix: MixOptions = { targets: { ko: 1 / 3, 'en+other': 1 / 3, code: 1 / 3 }, maxRepeat: 4, validation: 0.01 };

export interface MixGroup {
  name: string;
  target: number;
  /** Training tokens available after filtering (source weights applied). */
  available: number;
  rate: number;
}

export interface MixPlan {
  groups: MixGroup[];
  /** Group index per language label; -1 when the label has no target. */
  groupOf: Record<Lang, number>;
  totalTokens: number;
}

export function groupIndex(targets: Record<string, number>): Record<Lang, number> {
  const out: Record<Lang, number> = { ko: -1, en: -1, code: -1, other: -1 };
  Object.keys(targets).forEach((name, g) => {
    for (const label of name.split('+')) {
      if (!(label in out)) throw new KolmError(`mix.targets: unknown language "${label}" in "${name}" (use ko, en, code, other)`);
      if (out[label as Lang] !== -1) throw new KolmError(`mix.targets: "${label}" is in more than one group`);
      out[label as Lang] = g;
    }
  });
  return out;
}

/** Rates per group from the weighted training tokens available per language. */
export function planMix(available: Record<Lang, number>, opts: MixOptions): MixPlan {
  const groupOf = groupIndex(opts.targets);
  const names = Object.keys(opts.targets);
  const sum = names.reduce((s, n) => s + opts.targets[n], 0);
  if (!(sum > 0)) throw new KolmError('mix.targets: shares must be positive');
  const groups: MixGroup[] = names.map((name) => ({ name, target: opts.targets[name] / sum, available: 0, rate: 0 }));
  for (const [lang, g] of Object.entries(groupOf)) if (g >= 0) groups[g].available += available[lang as Lang] ?? 0;
  // A group with no data at all cannot get its share: the others split it in proportion to their targets.
  const present = groups.filter((g) => g.target > 0 && g.available > 0);
  const presentShare = present.reduce((s, g) => s + g.target, 0);
  for (const g of groups) g.target = present.includes(g) ? g.target / presentShare : 0;
  const natural = present.reduce((s, g) => s + g.available, 0);
  // Largest total that respects maxRepeat for every group that has a target.
  const cap = Math.min(...present.map((g) => (g.available * opts.maxRepeat) / g.target));
  const totalTokens = Math.min(opts.totalTokens ?? natural, cap);
  for (const g of groups) g.rate = g.available > 0 ? (g.target * totalTokens) / g.available : 0;
  return { groups, groupOf, totalTokens };
}

/** How many times a training document appears: floor(rate) plus a Bernoulli(frac(rate)) decided by (seed, key). */
export function copiesFor(rate: number, seed: number, key: number): number {
  const whole = Math.floor(rate);
  return whole + (unitFloat(seed, key) < rate - whole ? 1 : 0);
}

/** Whether a document (by content hash) belongs to the validation split. */
export function isValidation(fraction: number, seed: number, contentHash: number): boolean {
  return fraction > 0 && unitFloat(seed ^ 0x5eed5eed, contentHash) < fraction;
}
