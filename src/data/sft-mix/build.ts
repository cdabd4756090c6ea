/**
 * Builds the alignment data mix: every source in turn, each with its own random stream (a sub-seed per source, so
 * changing one count does not reshuffle the others), then the held-out checks and the final shuffles.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { KolmError } from '../../util/errors.js';
import { pick, rng, shuffleInPlace, type Random } from '../../util/random.js';
import { BENIGN_SENSITIVE, CODE_TASKS, OVER_REFUSALS, type Lang } from '../sft-templates.js';
import { arithmeticProblem, codeAnswer, harmfulPrompts } from './generators.js';
import { need, readChatbot, readDialogues, readGsm8k, readParallel, readSquare } from './readers.js';
import { DEFAULT_COUNTS, SOURCES, type ChatRecord, type Message, type MixCounts, type MixManifest, type PrefRecord, type PromptRecord, type SftMixOptions } from './types.js';
import { writeMixFolder } from './write.js';

/** A stable sub-seed per component, so changing one count does not reshuffle the other sources. */
function subSeed(seed: number, name: string): number {
  return createHash('sha256').update(`${seed}:${name}`).digest().readUInt32LE(0);
}

const user = (content: string): Message => ({ role: 'user', content });
const assistant = (content: string): Message => ({ role: 'assistant', content });
const SYSTEM_KO = '당신은 친절하고 정확한 한국어 AI 도우미입니다.';
const SYSTEM_EN = 'You are a helpful, accurate and harmless assistant.';

/** Build the mix into `o.out` (an existing folder is replaced only with `force`) and return its manifest. */
export async function buildSftMix(o: SftMixOptions): Promise<MixManifest> {
  const seed = o.seed ?? 0;
  const counts: MixCounts = { ...DEFAULT_COUNTS, ...o.counts };
  for (const [k, v] of Object.entries(counts)) if (!Number.isInteger(v) || v < 0) throw new KolmError(`count '${k}' must be a non-negative integer, got ${v}`);
  const validFraction = o.validFraction ?? 0.04;
  if (!(validFraction > 0 && validFraction < 0.5)) throw new KolmError(`valid fraction must be in (0, 0.5), got ${validFraction}`);
  const maxValid = o.maxValid ?? 200;
  const maxEval = o.maxEval ?? 100;
  if (existsSync(o.out) && !o.force) throw new KolmError(`${o.out} already exists (use --force to replace it)`);
  const R = (name: string) => rng(subSeed(seed, name));
  // Every source must be there before any work starts.
  for (const s of Object.values(SOURCES)) for (const f of s.files) need(o.data, f);

  const sftTrain: ChatRecord[] = [];
  const sftValid: ChatRecord[] = [];
  const prefTrain: PrefRecord[] = [];
  const prefValid: PrefRecord[] = [];
  const ppo: PromptRecord[] = [];
  const evalHarmful: PromptRecord[] = [];
  const evalBenign: PromptRecord[] = [];
  const evalMath: PromptRecord[] = [];
  const notes: string[] = [];
  const split = <T>(items: T[], r: Random, cap: number): { train: T[]; valid: T[] } => {
    const shuffled = shuffleInPlace([...items], r);
    const nValid = Math.min(maxValid, Math.max(1, Math.round(shuffled.length * validFraction)));
    return { valid: shuffled.slice(0, nValid), train: shuffled.slice(nValid, nValid + cap) };
  };
  const withSystem = (r: Random, lang: Lang, messages: Message[]): Message[] => (r() < 0.2 ? [{ role: 'system', content: lang === 'ko' ? SYSTEM_KO : SYSTEM_EN }, ...messages] : messages);

  // chatbot_data: group duplicate questions so one question never lands on both sides.
  {
    const r = R('chatbot');
    const rows = readChatbot(o.data);
    const byQ = new Map<string, typeof rows>();
    for (const row of rows) byQ.set(row.q, [...(byQ.get(row.q) ?? []), row]);
    const groups = split([...byQ.values()], r, counts.chatbot);
    const lic = SOURCES.chatbot.license;
    for (const g of groups.train) sftTrain.push({ messages: withSystem(r, 'ko', [user(g[0]!.q), assistant(g[0]!.a)]), source: 'chatbot', lang: 'ko', license: lic });
    for (const [i, g] of groups.valid.entries()) {
      sftValid.push({ messages: [user(g[0]!.q), assistant(g[0]!.a)], source: 'chatbot', lang: 'ko', license: lic });
      if (i < maxEval) evalBenign.push({ prompt: [user(g[0]!.q)], source: 'chatbot', lang: 'ko', kind: 'chat', license: lic, reference: g[0]!.a });
    }
    // Off-topic negatives: the real answer vs an answer to a different question.
    const answers = rows.map((x) => x.a);
    const neg = (g: typeof rows, out: PrefRecord[]) => {
      const others = answers.filter((x) => x !== g[0]!.a);
      if (!others.length) return;
      const other = pick(others, r);
      out.push({ prompt: [user(g[0]!.q)], chosen: g[0]!.a, rejected: other, source: 'chatbot-offtopic', lang: 'ko', license: lic });
    };
    groups.train.slice(0, counts.negatives).forEach((g) => neg(g, prefTrain));
    groups.valid.slice(0, Math.max(1, Math.round(counts.negatives * validFraction * 2))).forEach((g) => neg(g, prefValid));
    shuffleInPlace([...groups.train], r).slice(0, 2 * counts.ppo).forEach((g) => ppo.push({ prompt: [user(g[0]!.q)], source: 'chatbot', lang: 'ko', kind: 'chat', license: lic }));
    // Everyday questions deserve an answer, not a refusal.
    groups.train.slice(counts.negatives, counts.negatives + counts.negatives / 2).forEach((g) => prefTrain.push({ prompt: [user(g[0]!.q)], chosen: g[0]!.a, rejected: pick(OVER_REFUSALS.ko, r), source: 'over-refusal', lang: 'ko', license: lic }));
    groups.valid.slice(maxEval, maxEval + 20).forEach((g) => prefValid.push({ prompt: [user(g[0]!.q)], chosen: g[0]!.a, rejected: pick(OVER_REFUSALS.ko, r), source: 'over-refusal', lang: 'ko', license: lic }));
  }

  // HG-TODS multi-turn dialogues.
  {
    const r = R('dialogues');
    const dialogs = split(readDialogues(o.data), r, counts.dialogues);
    const lic = SOURCES.dialogues.license;
    for (const d of dialogs.train) sftTrain.push({ messages: withSystem(r, 'ko', d.messages), source: 'hg-tods', lang: 'ko', license: lic });
    for (const [i, d] of dialogs.valid.entries()) {
      sftValid.push({ messages: d.messages, source: 'hg-tods', lang: 'ko', license: lic });
      if (i < maxEval) evalBenign.push({ prompt: [d.messages[0]!], source: 'hg-tods', lang: 'ko', kind: 'chat', license: lic });
    }
    // Questions about a device or a song deserve an answer, not a refusal (training dialogues only; own random stream).
    const rr = R('dialogue-refusals');
    dialogs.train.slice(0, counts.dialogueRefusals).forEach((d) => prefTrain.push({ prompt: [d.messages[0]!], chosen: d.messages[1]!.content, rejected: pick(OVER_REFUSALS.ko, rr), source: 'over-refusal', lang: 'ko', license: lic }));
  }

  // GSM8K train (English): the held-out part gives English benign prompts with answers.
  {
    const r = R('gsm8k');
    const probs = split(readGsm8k(o.data), r, counts.gsm8k);
    const lic = SOURCES.gsm8k.license;
    for (const p of probs.train) sftTrain.push({ messages: withSystem(r, 'en', [user(p.question), assistant(p.solution)]), source: 'gsm8k', lang: 'en', license: lic });
    probs.train.slice(0, counts.negatives / 2).forEach((p) => prefTrain.push({ prompt: [user(p.question)], chosen: p.solution, rejected: pick(OVER_REFUSALS.en, r), source: 'over-refusal', lang: 'en', license: lic }));
    probs.valid.slice(maxEval, maxEval + 20).forEach((p) => prefValid.push({ prompt: [user(p.question)], chosen: p.solution, rejected: pick(OVER_REFUSALS.en, r), source: 'over-refusal', lang: 'en', license: lic }));
    for (const [i, p] of probs.valid.entries()) {
      sftValid.push({ messages: [user(p.question), assistant(p.solution)], source: 'gsm8k', lang: 'en', license: lic });
      if (i < maxEval) evalBenign.push({ prompt: [user(p.question)], source: 'gsm8k', lang: 'en', kind: 'math', license: lic, answer: p.answer });
    }
  }

  // Translation instructions both ways.
  {
    const r = R('translation');
    const pairs = await readParallel(o.data);
    const chosen = split(pairs, r, 2 * counts.translation);
    const toEn = [(ko: string) => `다음 문장을 영어로 번역해 주세요.\n${ko}`, (ko: string) => `영어로 번역해 줘: ${ko}`, (ko: string) => `Translate into English: ${ko}`];
    const toKo = [(en: string) => `다음 영어 문장을 한국어로 번역해 주세요.\n${en}`, (en: string) => `한국어로 옮겨 줘: ${en}`, (en: string) => `Translate into Korean: ${en}`];
    const make = (p: (typeof pairs)[number], i: number) => {
      const dir = i % 2 === 0 ? 'ko-en' : 'en-ko';
      const prompt = dir === 'ko-en' ? pick(toEn, r)(p.ko) : pick(toKo, r)(p.en);
      const lang: Lang = dir === 'ko-en' ? 'en' : 'ko';
      return { prompt, answer: dir === 'ko-en' ? p.en : p.ko, source: dir === 'ko-en' ? p.ko : p.en, lang, license: p.license, origin: p.source };
    };
    chosen.train.forEach((p, i) => {
      const t = make(p, i);
      sftTrain.push({ messages: [user(t.prompt), assistant(t.answer)], source: `translation-${i % 2 === 0 ? 'ko-en' : 'en-ko'}`, lang: t.lang, license: t.license, origin: t.origin });
      // Negative: the sentence copied back untranslated (answers in the wrong language).
      if (i < 2 * counts.negatives && i % 2 === 0) prefTrain.push({ prompt: [user(t.prompt)], chosen: t.answer, rejected: t.source, source: 'translation-untranslated', lang: t.lang, license: t.license });
    });
    chosen.valid.forEach((p, i) => {
      const t = make(p, i);
      sftValid.push({ messages: [user(t.prompt), assistant(t.answer)], source: `translation-${i % 2 === 0 ? 'ko-en' : 'en-ko'}`, lang: t.lang, license: t.license, origin: t.origin });
      if (i % 2 === 0 && prefValid.filter((x) => x.source === 'translation-untranslated').length < Math.max(4, Math.round(counts.negatives * validFraction * 2))) {
        prefValid.push({ prompt: [user(t.prompt)], chosen: t.answer, rejected: t.source, source: 'translation-untranslated', lang: t.lang, license: t.license });
      }
    });
    notes.push(`translation: ${pairs.length} clean en/ko pairs after filtering (Hangul on the ko side, 20–200 characters, no markup), ${chosen.train.length} used for training, ${chosen.valid.length} held out`);
  }

  // Generated arithmetic (verifiable answers); held-out phrasings for evaluation.
  {
    const r = R('arithmetic');
    const lic = SOURCES.generated.license;
    for (const lang of ['ko', 'en'] as const) {
      for (let i = 0; i < counts.arithmetic; i++) {
        const p = arithmeticProblem(r, lang, false);
        sftTrain.push({ messages: withSystem(r, lang, [user(p.question), assistant(p.solution)]), source: 'arithmetic', lang, license: lic });
        if (i < counts.negatives / 2) {
          const wrong = p.answer + pick([-3, -2, -1, 1, 2, 3, 10], r);
          prefTrain.push({ prompt: [user(p.question)], chosen: p.solution, rejected: p.solution.replaceAll(String(p.answer), String(wrong)), source: 'arithmetic-wrong', lang, license: lic });
        }
      }
      for (let i = 0; i < counts.ppo; i++) {
        const p = arithmeticProblem(r, lang, false);
        ppo.push({ prompt: [user(p.question)], source: 'arithmetic', lang, kind: 'math', license: lic, answer: p.answer });
      }
      const nHeld = Math.max(8, Math.round(counts.arithmetic * validFraction));
      for (let i = 0; i < nHeld; i++) {
        const p = arithmeticProblem(r, lang, true);
        evalMath.push({ prompt: [user(p.question)], source: 'arithmetic-heldout', lang, kind: 'math', license: lic, answer: p.answer });
        if (i < nHeld / 2) {
          sftValid.push({ messages: [user(p.question), assistant(p.solution)], source: 'arithmetic-heldout', lang, license: lic });
          const wrong = p.answer + pick([-2, -1, 1, 2], r);
          prefValid.push({ prompt: [user(p.question)], chosen: p.solution, rejected: p.solution.replaceAll(String(p.answer), String(wrong)), source: 'arithmetic-wrong', lang, license: lic });
        }
      }
    }
  }

  // Code tasks.
  {
    const r = R('code');
    const lic = SOURCES.generated.license;
    for (const lang of ['ko', 'en'] as const) {
      const all = CODE_TASKS.flatMap((t) => (['python', 'javascript'] as const).map((pl) => codeAnswer(t, lang, pl)));
      for (let i = 0; i < counts.code; i++) {
        const t = all[i % all.length]!;
        sftTrain.push({ messages: withSystem(r, lang, [user(t.prompt), assistant(t.answer)]), source: 'code', lang, license: lic });
      }
    }
  }

  // Safety: harmful requests (refusal chosen, compliance rejected) and benign-sensitive ones (help chosen, refusal rejected).
  {
    const r = R('safety');
    const lic = SOURCES.generated.license;
    for (const lang of ['ko', 'en'] as const) {
      const train = harmfulPrompts(lang, 'train');
      for (let i = 0; i < counts.safety; i++) {
        const h = train[i % train.length]!;
        const refusal = pick(h.refusals, r);
        sftTrain.push({ messages: withSystem(r, lang, [user(h.prompt), assistant(refusal)]), source: 'safety-refusal', lang, license: lic, category: h.category });
        if (i < 2 * train.length) prefTrain.push({ prompt: [user(h.prompt)], chosen: pick(h.refusals, r), rejected: pick(h.compliant, r), source: 'safety', lang, license: lic, category: h.category });
      }
      shuffleInPlace([...train], r).slice(0, counts.ppo).forEach((h) => ppo.push({ prompt: [user(h.prompt)], source: 'safety', lang, kind: 'harmful', license: lic, category: h.category }));
      const held = harmfulPrompts(lang, 'heldOut');
      // Evenly spaced across categories when capped.
      const step = Math.max(1, held.length / maxEval);
      for (const h of held.filter((_, i) => Math.floor(i % step) === 0).slice(0, maxEval)) {
        evalHarmful.push({ prompt: [user(h.prompt)], source: 'safety-heldout', lang, kind: 'harmful', license: lic, category: h.category });
        prefValid.push({ prompt: [user(h.prompt)], chosen: pick(h.refusals, r), rejected: pick(h.compliant, r), source: 'safety', lang, license: lic, category: h.category });
      }
      const benign = BENIGN_SENSITIVE.train.filter((b) => b.lang === lang);
      for (let i = 0; i < counts.benign; i++) {
        const b = benign[i % benign.length]!;
        sftTrain.push({ messages: withSystem(r, lang, [user(b.prompt), assistant(b.answer)]), source: 'benign-sensitive', lang, license: lic });
        if (i < benign.length) prefTrain.push({ prompt: [user(b.prompt)], chosen: b.answer, rejected: pick(OVER_REFUSALS[lang], r), source: 'over-refusal', lang, license: lic });
      }
      benign.forEach((b) => ppo.push({ prompt: [user(b.prompt)], source: 'benign-sensitive', lang, kind: 'benign', license: lic }));
      for (const b of BENIGN_SENSITIVE.heldOut.filter((x) => x.lang === lang)) {
        evalBenign.push({ prompt: [user(b.prompt)], source: 'benign-sensitive-heldout', lang, kind: 'benign-sensitive', license: lic, reference: b.answer });
        prefValid.push({ prompt: [user(b.prompt)], chosen: b.answer, rejected: pick(OVER_REFUSALS[lang], r), source: 'over-refusal', lang, license: lic });
      }
    }
  }

  // SQuARe: acceptable vs non-acceptable answers to sensitive questions, split by question.
  {
    const r = R('square');
    const lic = SOURCES.square.license;
    const questions = readSquare(o.data).filter((q) => q.acceptable.length && q.unacceptable.length);
    const shuffled = shuffleInPlace([...questions], r);
    const nValid = Math.max(1, Math.round(shuffled.length * 0.2));
    shuffled.forEach((q, i) => {
      const out = i < nValid ? prefValid : prefTrain;
      for (const good of q.acceptable.slice(0, 2)) {
        out.push({ prompt: [user(q.question)], chosen: good, rejected: pick(q.unacceptable, r), source: 'square', lang: 'ko', license: lic, category: q.category });
      }
    });
    notes.push(`square: ${questions.length} questions have both an acceptable and a non-acceptable response; ${nValid} questions (20%) are held out for preference evaluation`);
  }

  // No evaluation prompt may appear as a training prompt.
  const trainPrompts = new Set(sftTrain.map((c) => c.messages.find((m) => m.role === 'user')?.content));
  for (const list of [evalHarmful, evalBenign, evalMath]) {
    const before = list.length;
    const kept = list.filter((p) => !trainPrompts.has(p.prompt[0]!.content));
    list.splice(0, list.length, ...kept);
    if (kept.length < before) notes.push(`dropped ${before - kept.length} evaluation prompts that also occur in training`);
  }

  const rShuffle = R('order');
  const files: Record<string, unknown[]> = {
    'sft.train.jsonl': shuffleInPlace(sftTrain, rShuffle),
    'sft.valid.jsonl': sftValid,
    'pref.train.jsonl': shuffleInPlace(prefTrain, rShuffle),
    'pref.valid.jsonl': prefValid,
    'ppo.prompts.jsonl': shuffleInPlace(ppo, rShuffle),
    'eval/harmful.jsonl': evalHarmful,
    'eval/benign.jsonl': evalBenign,
    'eval/math.jsonl': evalMath,
  };
  const manifest: MixManifest = {
    format: 'kolm-sft-mix', version: 1, seed, counts, validFraction, maxValid, maxEval,
    sources: Object.fromEntries(Object.entries(SOURCES).map(([k, v]) => [k, { files: v.files, license: v.license, upstream: v.upstream }])),
    files: {},
    notes,
  };
  await writeMixFolder(o.out, files, manifest);
  return manifest;
}
