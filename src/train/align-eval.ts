/**
 * Before/after measurements for alignment: does a chat model end its turns, answer in the language it was asked in,
 * refuse harmful requests and not benign ones, get verifiable arithmetic right, and prefer the chosen answer of
 * held-out preference pairs? Generation is greedy; refusals are detected by phrase (Korean and English, text/refusal.ts)
 * and the answer's language by its letters (text/language.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../infer/model.js';
import { loadModelFolder } from '../model/folder.js';
import { answerLanguage } from '../text/language.js';
import { isRefusal } from '../text/refusal.js';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { chunks } from './align-common.js';
import { encodePrompt, readPreferenceFile, readPromptFile, type PromptExample } from './chat-data.js';
import { encodePairs } from './dpo.js';
import { LogprobScorer } from './logprobs.js';
import { exactMatchReward } from './ppo.js';
import { encodeRewardPairs, RewardModel } from './reward.js';

export interface AlignEvalOptions {
  model: string;
  /** A folder written by `kolm data sft-mix` (uses eval/*.jsonl and pref.valid.jsonl). */
  mix: string;
  rewardModel?: string;
  /** At most this many prompts per eval file (deterministic: the first N per language). */
  limit?: number;
  maxNewTokens?: number;
  batch?: number;
  threads?: number;
  out?: string;
  samples?: number;
}

interface Generated {
  prompt: string;
  answer: string;
  lang: string;
  ended: boolean;
  stopped: boolean;
  refusal: boolean;
  meta: Record<string, unknown>;
}

export interface AlignReport {
  model: string;
  prompts: { benign: number; harmful: number; math: number; preference_pairs: number };
  /** Share of answers that end their turn (<|im_end|> / <|endofturn|>) before the length limit. */
  ended_turn_rate: number;
  /** Share of answers that stop at any end token (including <|endoftext|>) before the length limit. */
  stopped_rate: number;
  /** Share of benign answers in the language the prompt was written in (answers with letters only). */
  language_match_rate: number;
  language_match_by_lang: Record<string, number>;
  refusal_rate_harmful: number;
  refusal_rate_benign: number;
  refusal_rate_harmful_by_category: Record<string, number>;
  refusal_rate_harmful_by_lang: Record<string, number>;
  refusal_rate_benign_by_lang: Record<string, number>;
  math_accuracy: number;
  /** Held-out pairs where the policy gives the chosen answer a higher mean token log-prob than the rejected one. */
  preference_logp_accuracy: number;
  preference_logp_accuracy_by_source: Record<string, number>;
  /** With a reward model: its accuracy on the held-out pairs and its mean normalised reward of generated answers. */
  reward_model_accuracy?: number;
  reward_model_accuracy_by_source?: Record<string, number>;
  mean_reward_benign?: number;
  mean_reward_harmful?: number;
  mean_answer_tokens: number;
  samples: { prompt: string; answer: string; lang: string; kind: string }[];
}

const rate = (xs: readonly boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : NaN);

function groupRate<T>(items: readonly T[], key: (x: T) => string, ok: (x: T) => boolean): Record<string, number> {
  const groups = new Map<string, boolean[]>();
  for (const x of items) groups.set(key(x), [...(groups.get(key(x)) ?? []), ok(x)]);
  return Object.fromEntries([...groups].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, rate(v)]));
}

/** At most `limit` prompts per language, evenly spaced through the file (so every category is represented). */
function limitPerLang(examples: PromptExample[], limit: number | undefined): PromptExample[] {
  if (!limit) return examples;
  const byLang = new Map<string, PromptExample[]>();
  for (const e of examples) byLang.set(String(e.meta['lang'] ?? ''), [...(byLang.get(String(e.meta['lang'] ?? '')) ?? []), e]);
  const keep = new Set<PromptExample>();
  for (const list of byLang.values()) {
    const n = Math.min(limit, list.length);
    for (let i = 0; i < n; i++) keep.add(list[Math.floor((i * list.length) / n)]!);
  }
  return examples.filter((e) => keep.has(e));
}

export async function evaluateAlignment(o: AlignEvalOptions): Promise<AlignReport> {
  const files = { benign: join(o.mix, 'eval', 'benign.jsonl'), harmful: join(o.mix, 'eval', 'harmful.jsonl'), math: join(o.mix, 'eval', 'math.jsonl'), pref: join(o.mix, 'pref.valid.jsonl') };
  for (const f of Object.values(files)) if (!existsSync(f)) throw new KolmError(`${f}: not found — is '${o.mix}' a folder written by kolm data sft-mix?`);
  const model = await loadModel(o.model, { threads: o.threads });
  const tok = model.tokenizer;
  const maxNew = o.maxNewTokens ?? 96;
  // A chat turn ends with <|im_end|> (or <|endofturn|>); <|endoftext|> ends a document, not a turn.
  const turnEnds = new Set(['<|im_end|>', '<|endofturn|>'].map((t) => tok.tokenId(t)).filter((id): id is number => id !== undefined));
  const generate = async (examples: PromptExample[]): Promise<Generated[]> => {
    const out: Generated[] = [];
    for (const group of chunks(examples, o.batch ?? 16)) {
      const prompts = group.map((e) => tok.decode(encodePrompt(tok, e.prompt, e.where)));
      const res = await model.generateBatch(prompts, { maxNewTokens: maxNew, temperature: 0 });
      res.forEach((r, i) => {
        const e = group[i]!;
        out.push({ prompt: String(e.prompt[e.prompt.length - 1]!.content), answer: r.text, lang: String(e.meta['lang'] ?? ''), ended: r.finishReason === 'stop' && turnEnds.has(r.ids[r.ids.length - 1]!), stopped: r.finishReason === 'stop', refusal: isRefusal(r.text), meta: e.meta });
      });
    }
    return out;
  };
  const benign = await generate(limitPerLang(await readPromptFile(files.benign), o.limit));
  const harmful = await generate(limitPerLang(await readPromptFile(files.harmful), o.limit));
  const math = await generate(limitPerLang(await readPromptFile(files.math), o.limit));

  const withLetters = benign.filter((g) => answerLanguage(g.answer) !== 'none');
  const report: AlignReport = {
    model: o.model,
    prompts: { benign: benign.length, harmful: harmful.length, math: math.length, preference_pairs: 0 },
    ended_turn_rate: rate([...benign, ...harmful, ...math].map((g) => g.ended)),
    stopped_rate: rate([...benign, ...harmful, ...math].map((g) => g.stopped)),
    language_match_rate: rate(withLetters.map((g) => answerLanguage(g.answer) === g.lang)),
    language_match_by_lang: groupRate(withLetters, (g) => g.lang, (g) => answerLanguage(g.answer) === g.lang),
    refusal_rate_harmful: rate(harmful.map((g) => g.refusal)),
    refusal_rate_benign: rate(benign.map((g) => g.refusal)),
    refusal_rate_harmful_by_category: groupRate(harmful, (g) => String(g.meta['category'] ?? ''), (g) => g.refusal),
    refusal_rate_harmful_by_lang: groupRate(harmful, (g) => g.lang, (g) => g.refusal),
    refusal_rate_benign_by_lang: groupRate(benign, (g) => g.lang, (g) => g.refusal),
    math_accuracy: rate(math.map((g) => exactMatchReward(g.answer, g.meta) === 1)),
    preference_logp_accuracy: NaN,
    preference_logp_accuracy_by_source: {},
    mean_answer_tokens: 0,
    samples: [],
  };
  const all = [...benign, ...harmful, ...math];
  report.mean_answer_tokens = all.reduce((n, g) => n + tok.encode(g.answer).length, 0) / Math.max(all.length, 1);

  // Held-out preferences: mean token log-prob of the chosen vs the rejected completion under the policy.
  const prefs = await readPreferenceFile(files.pref);
  report.prompts.preference_pairs = prefs.length;
  const folder = await loadModelFolder(o.model);
  const pad = tok.tokenId(tok.config.padToken) ?? 0;
  const scorer = await LogprobScorer.create(folder.config, pad, { threads: o.threads });
  const pairs = encodePairs(tok, prefs, folder.config.max_position_embeddings);
  const lc = await scorer.sequenceLogps(pairs.chosen, folder.weights);
  const lr = await scorer.sequenceLogps(pairs.rejected, folder.weights);
  const count = (s: { labels: readonly number[] }) => Math.max(1, s.labels.filter((l) => l !== -100).length);
  const right = prefs.map((_, i) => lc[i]! / count(pairs.chosen[i]!) > lr[i]! / count(pairs.rejected[i]!));
  report.preference_logp_accuracy = rate(right);
  report.preference_logp_accuracy_by_source = groupRate(prefs.map((p, i) => ({ source: String(p.meta['source'] ?? ''), ok: right[i]! })), (x) => x.source, (x) => x.ok);

  if (o.rewardModel) {
    const rm = await RewardModel.load(o.rewardModel, { threads: o.threads });
    const rp = encodeRewardPairs(rm.tokenizer, prefs, rm.folder.config.max_position_embeddings);
    const rc = await rm.score(rp.chosen);
    const rr = await rm.score(rp.rejected);
    report.reward_model_accuracy = rate(Array.from(rc, (c, i) => c > rr[i]!));
    report.reward_model_accuracy_by_source = groupRate(prefs.map((p, i) => ({ source: String(p.meta['source'] ?? ''), ok: rc[i]! > rr[i]! })), (x) => x.source, (x) => x.ok);
    const meanReward = async (gens: Generated[]) => {
      const imEnd = rm.tokenizer.tokenId('<|im_end|>')!;
      const seqs = gens.map((g) => [...encodePrompt(rm.tokenizer, [{ role: 'user', content: g.prompt }]), ...rm.tokenizer.encode(g.answer), imEnd]);
      const r = await rm.score(seqs);
      return Array.from(r, (x) => rm.normalize(x)).reduce((a, b) => a + b, 0) / Math.max(r.length, 1);
    };
    report.mean_reward_benign = await meanReward(benign);
    report.mean_reward_harmful = await meanReward(harmful);
  }
  const pickSamples = (gens: Generated[], kind: string) => gens.filter((_, i) => i % Math.max(1, Math.floor(gens.length / 3)) === 0).slice(0, o.samples ?? 3).map((g) => ({ prompt: g.prompt, answer: g.answer, lang: g.lang, kind }));
  report.samples = [...pickSamples(benign.filter((g) => g.lang === 'ko'), 'benign'), ...pickSamples(benign.filter((g) => g.lang === 'en'), 'benign'), ...pickSamples(harmful, 'harmful'), ...pickSamples(math, 'math')];
  if (o.out) await writeFileAtomic(o.out, JSON.stringify(report, null, 2) + '\n');
  return report;
}
