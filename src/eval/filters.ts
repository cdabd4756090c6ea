/** lm-eval's response filters (lm_eval/filters): pipelines applied to each document's list of responses. */
import type { Doc } from './datasets.js';
import type { FilterStep } from './config.js';
import { pyRegex } from './metrics.js';
import type { EvalFunction } from './functions.js';

export type Responses = unknown[][];

/** Python re.findall: whole matches without groups, the group with one, tuples of groups with several. */
export function findall(re: RegExp, s: string): (string | string[])[] {
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
  const out: (string | string[])[] = [];
  for (const m of s.matchAll(g)) {
    if (m.length === 1) out.push(m[0]);
    else if (m.length === 2) out.push(m[1] ?? '');
    else out.push(m.slice(1).map((x) => x ?? ''));
  }
  return out;
}

function regexFilter(step: FilterStep): (resps: Responses) => Responses {
  const re = pyRegex((step['regex_pattern'] as string | undefined) ?? '#### (\\-?[0-9\\.\\,]+)');
  const groupSelect = (step['group_select'] as number | undefined) ?? 0;
  const fallback = (step['fallback'] as string | undefined) ?? '[invalid]';
  return (resps) => resps.map((inst) => inst.map((resp) => {
    const matches = findall(re, typeof resp === 'string' ? resp : '');
    if (!matches.length) return fallback;
    let m = matches[groupSelect < 0 ? matches.length + groupSelect : groupSelect];
    if (m === undefined) return fallback;
    if (Array.isArray(m)) m = m.find((x) => x) ?? fallback;
    return m.trim();
  }));
}

/** Build a filter pipeline; `custom` steps call a function (resps, docs) → resps. */
export function buildFilter(steps: readonly FilterStep[], resolve: (step: FilterStep) => EvalFunction | undefined): (resps: Responses, docs: Doc[]) => unknown[] {
  const fns = steps.map((step): ((r: Responses, d: Doc[]) => unknown[]) => {
    switch (step.function) {
      case 'regex': return regexFilter(step);
      case 'take_first': return (r) => r.map((x) => x[0]);
      case 'take_first_k': return (r) => r.map((x) => x.slice(0, step['k'] as number));
      case 'remove_whitespace': return (r) => r.map((x) => x.map((s) => String(s).trim()));
      case 'strip': return (r) => r.map((x) => x.map((s) => String(s).trim()));
      case 'lowercase': return (r) => r.map((x) => x.map((s) => String(s).toLowerCase()));
      case 'uppercase': return (r) => r.map((x) => x.map((s) => String(s).toUpperCase()));
      case 'map': {
        const dict = (step['mapping_dict'] as Record<string, unknown> | undefined) ?? {};
        const dflt = step['default_value'] ?? null;
        return (r) => r.map((x) => x.map((s) => (String(s) in dict ? dict[String(s)] : dflt)));
      }
      case 'majority_vote': return (r) => r.map((x) => {
        const counts = new Map<string, number>();
        let best = x[0];
        let bestN = 0;
        for (const v of x) {
          const n = (counts.get(String(v)) ?? 0) + 1;
          counts.set(String(v), n);
          if (n > bestN) {
            bestN = n;
            best = v;
          }
        }
        return [best];
      });
      case 'custom': {
        const fn = resolve(step)!;
        return (r, d) => fn(r, d) as unknown[];
      }
      default: throw new Error(`unknown filter ${step.function}`);
    }
  });
  return (resps, docs) => {
    let cur: unknown[] = resps;
    for (const f of fns) cur = f(cur as Responses, docs);
    return cur;
  };
}
