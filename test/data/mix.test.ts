import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMix, copiesFor, isValidation, defaultMix } from '../../src/data/mix.js';
import { Rng } from '../../src/util/random.js';
import type { Lang } from '../../src/data/types.js';

test('mixing hits its target proportions within tolerance', () => {
  // Uneven supply: Korean is scarce, code plentiful; documents of random length.
  const rng = new Rng(9);
  const docs: { lang: Lang; tokens: number }[] = [];
  const supply: Record<Lang, number> = { ko: 400, en: 1200, code: 2400, other: 100 };
  for (const [lang, n] of Object.entries(supply)) {
    for (let i = 0; i < n; i++) docs.push({ lang: lang as Lang, tokens: 50 + rng.int(200) });
  }
  const available: Record<Lang, number> = { ko: 0, en: 0, code: 0, other: 0 };
  for (const d of docs) available[d.lang] += d.tokens;
  const plan = planMix(available, defaultMix);
  const ko = plan.groups.find((g) => g.name === 'ko')!;
  const code = plan.groups.find((g) => g.name === 'code')!;
  assert.ok(ko.rate > 1, 'the scarce language is up-sampled');
  assert.ok(code.rate < 1, 'the plentiful one is down-sampled');

  const out: Record<string, number> = {};
  let total = 0;
  docs.forEach((d, i) => {
    const g = plan.groupOf[d.lang];
    const n = copiesFor(plan.groups[g].rate, 1234, i) * d.tokens;
    out[plan.groups[g].name] = (out[plan.groups[g].name] ?? 0) + n;
    total += n;
  });
  for (const g of plan.groups) assert.ok(Math.abs(out[g.name] / total - 1 / 3) < 0.03, `${g.name}: ${out[g.name] / total}`);
  assert.ok(Math.abs(total - plan.totalTokens) / plan.totalTokens < 0.03);
});

test('no group is repeated more than maxRepeat times; explicit totals are honoured', () => {
  const plan = planMix({ ko: 10, en: 1000, code: 1000, other: 0 }, { ...defaultMix, maxRepeat: 2 });
  assert.ok(plan.groups.every((g) => g.rate <= 2 + 1e-9));
  assert.ok(Math.abs(plan.groups[0].rate - 2) < 1e-9);
  const fixed = planMix({ ko: 100, en: 100, code: 100, other: 0 }, { ...defaultMix, totalTokens: 150 });
  assert.equal(fixed.totalTokens, 150);
  assert.ok(fixed.groups.every((g) => Math.abs(g.rate - 0.5) < 1e-9));
});

test('copies and the validation split are deterministic for a seed', () => {
  const a = Array.from({ length: 1000 }, (_, i) => copiesFor(1.4, 5, i));
  assert.deepEqual(a, Array.from({ length: 1000 }, (_, i) => copiesFor(1.4, 5, i)));
  assert.notDeepEqual(a, Array.from({ length: 1000 }, (_, i) => copiesFor(1.4, 6, i)));
  assert.ok(a.every((c) => c === 1 || c === 2));
  const val = Array.from({ length: 20000 }, (_, i) => isValidation(0.01, 1, i * 2654435761)).filter(Boolean).length;
  assert.ok(val > 140 && val < 260, `${val} validation documents of 20000 at 1%`);
});

test('a target group without data is left out and the others share its part', () => {
  const plan = planMix({ ko: 300, en: 100, code: 0, other: 0 }, defaultMix);
  const [ko, en, code] = plan.groups;
  assert.equal(code.rate, 0);
  assert.ok(Math.abs(ko.target - 0.5) < 1e-9 && Math.abs(en.target - 0.5) < 1e-9);
  assert.equal(plan.totalTokens, 400);
  assert.ok(Math.abs(ko.rate * 300 - 200) < 1e-9 && Math.abs(en.rate * 100 - 200) < 1e-9);
});
