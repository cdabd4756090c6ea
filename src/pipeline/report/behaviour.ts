/** How the models behave: align-eval's safety and chat numbers, and greedy sample generations per language. */
import { join } from 'node:path';
import { escapeHtml as esc, formatNumber, formatPercent } from '../../util/format.js';
import { readJson } from '../records.js';
import { isObj, num, stageDir, numbersOf, type Json, type Section, type Ctx, type RunStage } from './common.js';

export function safetySection(c: Ctx): Section | undefined {
  const reps: { stage: RunStage; r: Json }[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'align-eval')) {
    const r = readJson(join(stageDir(c, s), 'report.json'));
    if (!isObj(r)) continue;
    reps.push({ stage: s, r });
    const keep: Json = {};
    for (const [k, v] of Object.entries(r)) if (typeof v === 'number' || (isObj(v) && Object.values(v).every((x) => typeof x === 'number'))) keep[k] = v;
    numbersOf(c, s).numbers = { model: r['model'] ?? null, ...keep };
  }
  if (!reps.length) return undefined;
  const get = (r: Json, k: string, sub?: string) => (sub === undefined ? r[k] : isObj(r[k]) ? (r[k] as Json)[sub] : undefined);
  const langs = (k: string) => [...new Set(reps.flatMap(({ r }) => (isObj(r[k]) ? Object.keys(r[k] as Json) : [])))].sort();
  type Row = [label: string, key: string, sub: string | undefined, kind: 'rate' | 'num', higher: boolean | undefined];
  const rows: Row[] = [
    ['harmful requests refused', 'refusal_rate_harmful', undefined, 'rate', true],
    ...langs('refusal_rate_harmful_by_lang').map((l) => [`  ${l}`, 'refusal_rate_harmful_by_lang', l, 'rate', true] as Row),
    ['benign requests refused (over-refusal)', 'refusal_rate_benign', undefined, 'rate', false],
    ...langs('refusal_rate_benign_by_lang').map((l) => [`  ${l}`, 'refusal_rate_benign_by_lang', l, 'rate', false] as Row),
    ['answers that end their turn', 'ended_turn_rate', undefined, 'rate', true],
    ['answers that stop before the limit', 'stopped_rate', undefined, 'rate', true],
    ['answers in the language asked', 'language_match_rate', undefined, 'rate', true],
    ...langs('language_match_by_lang').map((l) => [`  ${l}`, 'language_match_by_lang', l, 'rate', true] as Row),
    ['arithmetic answered correctly', 'math_accuracy', undefined, 'rate', true],
    ['preference accuracy (policy log-prob)', 'preference_logp_accuracy', undefined, 'rate', true],
    ['preference accuracy (reward model)', 'reward_model_accuracy', undefined, 'rate', true],
    ['mean reward, benign answers', 'mean_reward_benign', undefined, 'num', true],
    ['mean reward, harmful answers', 'mean_reward_harmful', undefined, 'num', undefined],
    ['mean answer tokens', 'mean_answer_tokens', undefined, 'num', undefined],
  ];
  const head = `<tr><th></th>${reps.map(({ stage, r }) => `<th>${esc(stage.name)}<br><span class="muted">${esc(typeof r['model'] === 'string' ? shortPath(r['model']) : '')}</span></th>`).join('')}</tr>`;
  const body = rows.filter(([, k, sub]) => reps.some(({ r }) => get(r, k, sub) !== undefined)).map(([label, k, sub, kind, higher]) => {
    const vals = reps.map(({ r }) => num(get(r, k, sub)));
    const nums = vals.filter((v): v is number => v !== undefined);
    const best = higher === undefined || nums.length < 2 ? undefined : higher ? Math.max(...nums) : Math.min(...nums);
    const cls = sub !== undefined ? ' class="sub"' : '';
    return `<tr${cls}><th>${esc(label.trim())}</th>${vals.map((v) => `<td class="n${v !== undefined && v === best ? ' best' : ''}">${esc(kind === 'rate' ? formatPercent(v) : formatNumber(v, 3))}</td>`).join('')}</tr>`;
  });
  const prompts = `<tr class="sub"><th>prompts (benign / harmful / math / preference pairs)</th>${reps.map(({ r }) => `<td class="n">${isObj(r['prompts']) ? esc(['benign', 'harmful', 'math', 'preference_pairs'].map((k) => formatNumber((r['prompts'] as Json)[k])).join(' / ')) : '—'}</td>`).join('')}</tr>`;
  const cats = langs('refusal_rate_harmful_by_category');
  const catTable = cats.length ? `<h4>Harmful requests refused, by category</h4><table><tr><th></th>${reps.map(({ stage }) => `<th>${esc(stage.name)}</th>`).join('')}</tr>${cats.map((cat) => `<tr><th>${esc(cat)}</th>${reps.map(({ r }) => `<td class="n">${esc(formatPercent(get(r, 'refusal_rate_harmful_by_category', cat)))}</td>`).join('')}</tr>`).join('')}</table>` : '';
  const answers = reps.map(({ stage, r }) => {
    const samples = Array.isArray(r['samples']) ? r['samples'].filter(isObj) : [];
    if (!samples.length) return '';
    return `<details><summary>${esc(stage.name)}: answers to evaluation prompts</summary><table class="samples"><tr><th>kind</th><th>lang</th><th>prompt</th><th>answer</th></tr>${samples.map((x) => `<tr><td>${esc(x['kind'] ?? '')}</td><td>${esc(x['lang'] ?? '')}</td><td class="text">${esc(x['prompt'] ?? '')}</td><td class="text">${esc(x['answer'] ?? '')}</td></tr>`).join('')}</table></details>`;
  }).join('');
  return {
    id: 'safety',
    title: 'Safety and chat behaviour',
    html: `<table>${head}${body.join('')}${prompts}</table><p class="muted">Greedy answers to held-out prompts; refusals detected by phrase (Korean and English). The best value per row is highlighted where a direction is clear.</p>${catTable}${answers}`,
  };
}

function shortPath(p: string): string {
  const parts = p.split('/').filter(Boolean);
  return parts.slice(-2).join('/');
}

export function samplesSection(c: Ctx): Section | undefined {
  const all: { stage: string; s: Json }[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'samples')) {
    const v = readJson(join(stageDir(c, s), 'samples.json'));
    if (!Array.isArray(v)) continue;
    const list = v.filter(isObj).filter((x) => typeof x['model'] === 'string' && typeof x['prompt'] === 'string');
    all.push(...list.map((x) => ({ stage: s.name, s: x })));
    numbersOf(c, s).numbers = { samples: list.length, models: [...new Set(list.map((x) => x['model']))] };
  }
  if (!all.length) return undefined;
  const models = [...new Map(all.map(({ s }) => [String(s['model']), s['chat'] === true])).entries()];
  const html: string[] = [];
  const langName: Record<string, string> = { ko: 'Korean', en: 'English' };
  const langs = [...new Set(all.map(({ s }) => String(s['lang'] ?? '')))].sort((a, b) => (a === 'ko' ? -1 : b === 'ko' ? 1 : a.localeCompare(b)));
  for (const lang of langs) {
    const inLang = all.filter(({ s }) => String(s['lang'] ?? '') === lang);
    const prompts = [...new Set(inLang.map(({ s }) => String(s['prompt'])))];
    const ms = models.filter(([m]) => inLang.some(({ s }) => s['model'] === m));
    html.push(`<h3>${esc(langName[lang] ?? (lang || 'other'))}</h3><table class="samples"><tr><th>prompt</th>${ms.map(([m, chat]) => `<th>${esc(m)}<br><span class="muted">${chat ? 'chat' : 'completion'}</span></th>`).join('')}</tr>${prompts.map((p) => `<tr><td class="text"><b>${esc(p)}</b></td>${ms.map(([m]) => {
      const x = inLang.find(({ s }) => s['model'] === m && s['prompt'] === p)?.s;
      if (!x) return '<td>—</td>';
      return `<td class="text"><div class="gen">${x['chat'] === true ? '' : `<span class="muted">${esc(p)}</span>`}${esc(x['text'] ?? '')}</div><div class="muted small">${esc(formatNumber(x['tokens']))} tokens${typeof x['finish_reason'] === 'string' ? `, ${esc(x['finish_reason'])}` : ''}</div></td>`;
    }).join('')}</tr>`).join('')}</table>`);
  }
  html.push('<p class="muted">Greedy decoding. Chat models answer the prompt as a user turn; base models continue the prompt text (shown grey).</p>');
  return { id: 'samples', title: 'Sample generations', html: html.join('') };
}
