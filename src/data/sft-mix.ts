/**
 * Alignment data mixes from real, training-licensed sources plus generated tasks, reproducible for a seed:
 *
 *   SFT chats        chatbot_data (MIT, Korean single-turn), HG-TODS dialogues (MIT, Korean multi-turn), GSM8K train
 *                    (MIT, English math), en↔ko translation instructions both ways from the Debian parallel pairs
 *                    (per-record licences), generated arithmetic word problems (Korean/English, verifiable answers),
 *                    code tasks, safe refusals/redirects for harmful requests and helpful answers to benign requests
 *                    that merely sound sensitive.
 *   Preferences      SQuARe acceptable vs non-acceptable responses (MIT), harmful requests with refusal (chosen) vs
 *                    compliance (rejected), benign requests with help (chosen) vs needless refusal (rejected), and
 *                    synthetic negatives: wrong final answers, untranslated copies, off-topic answers.
 *   PPO prompts      harmful, benign-sensitive, everyday chat and arithmetic prompts (arithmetic with `answer`).
 *   Held-out eval    harmful prompts from request templates never trained on, benign prompts (held-out chats,
 *                    GSM8K train questions kept out of SFT, held-out benign templates), arithmetic with answers.
 *
 * Evaluation-only sets (KorQuAD, KLUE, KoBEST, HumanEval, MBPP, GSM8K test, …) are never read.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync, createGunzip } from 'node:zlib';
import { rng } from '../graph/ndarray.js';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { BENIGN_SENSITIVE, CODE_TASKS, HARM_CATEGORIES, ITEMS, NAMES, OVER_REFUSALS, type Lang } from './sft-templates.js';

export interface MixCounts {
  /** Korean single-turn chats from chatbot_data. */
  chatbot: number;
  /** Korean multi-turn dialogues from HG-TODS. */
  dialogues: number;
  /** English GSM8K train problems (solutions with the final answer). */
  gsm8k: number;
  /** Translation instructions per direction. */
  translation: number;
  /** Generated arithmetic problems per language. */
  arithmetic: number;
  /** Code tasks per language. */
  code: number;
  /** Harmful requests with safe answers, per language (SFT and preference pairs each). */
  safety: number;
  /** Benign-sensitive requests per language. */
  benign: number;
  /** Preference pairs with synthetic negatives per kind (arithmetic, translation, off-topic). */
  negatives: number;
  /** PPO prompts per kind (harmful, benign, chat, arithmetic). */
  ppo: number;
  /**
   * Over-refusal pairs from HG-TODS dialogue openings (device and music questions): the real reply preferred over a
   * stock refusal. 0 by default, which keeps the default mix as it was.
   */
  dialogueRefusals: number;
}

export const DEFAULT_COUNTS: MixCounts = { chatbot: 6000, dialogues: 1500, gsm8k: 1500, translation: 1500, arithmetic: 1000, code: 200, safety: 300, benign: 150, negatives: 400, ppo: 64, dialogueRefusals: 0 };

export interface SftMixOptions {
  /** Folder holding `external/` and `raw/` (the project's shared data folder). */
  data: string;
  out: string;
  seed?: number;
  counts?: Partial<MixCounts>;
  /** Share of each real source kept out of training for validation and evaluation (default 0.04)… */
  validFraction?: number;
  /** …at most this many records per source (default 200)… */
  maxValid?: number;
  /** …of which at most this many per source become evaluation prompts (default 100). */
  maxEval?: number;
  force?: boolean;
}

type Message = { role: string; content: string };
interface ChatRecord { messages: Message[]; source: string; lang: Lang; license: string; [k: string]: unknown }
interface PrefRecord { prompt: Message[]; chosen: string; rejected: string; source: string; lang: Lang; license: string; [k: string]: unknown }
interface PromptRecord { prompt: Message[]; source: string; lang: Lang; kind: string; license: string; answer?: number; [k: string]: unknown }

export const SOURCES = {
  chatbot: { files: ['external/chatbot_data/ChatbotData.csv'], license: 'MIT', upstream: 'github.com/songys/Chatbot_data @ 4cf20d13fc46' },
  dialogues: {
    files: [
      'external/hg-tods-dialogues/Music_commonsense_knowledge_graph_grounded_dialogues/dev_dialog.json.gz',
      'external/hg-tods-dialogues/Music_commonsense_knowledge_graph_grounded_dialogues/test_dialog.json.gz',
      'external/hg-tods-dialogues/Manual_grounded_dialogue_dataset/manual2dial_dial_validation.json.gz',
      'external/hg-tods-dialogues/Manual_grounded_dialogue_dataset/manual2dial_dial_test.json.gz',
    ],
    license: 'MIT', upstream: 'github.com/NLPlab-skku/HG-TODS @ 7c8cea000b82',
  },
  gsm8k: { files: ['external/gsm8k/train.jsonl.gz'], license: 'MIT', upstream: 'github.com/openai/grade-school-math @ 3101c7d50724 (train split only)' },
  square: { files: ['external/square/response_test_ood.json'], license: 'MIT', upstream: 'github.com/naver-ai/korean-safety-benchmarks @ e32837cd19c4 (SQuARe OOD responses)' },
  parallel: { files: ['raw/parallel.en-ko.jsonl.gz'], license: 'per record (Debian packages: GPL/LGPL/MPL/GFDL/CC-BY-SA/MIT/…; kept in each record)', upstream: 'Debian 12 packages (raw/README.md)' },
  generated: { files: [], license: 'Apache-2.0 (kolm templates, src/data/sft-templates.ts)', upstream: 'kolm' },
} as const;

type SourceName = keyof typeof SOURCES;

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  float(): number {
    return this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }
}

/** A stable sub-seed per component, so changing one count does not reshuffle the other sources. */
function subSeed(seed: number, name: string): number {
  return createHash('sha256').update(`${seed}:${name}`).digest().readUInt32LE(0);
}

// ---- Korean particles ------------------------------------------------------------------------------------------

function hasFinalConsonant(word: string): boolean {
  const last = word.trim().slice(-1);
  const code = last.charCodeAt(0);
  if (code >= 0xac00 && code <= 0xd7a3) return (code - 0xac00) % 28 !== 0;
  if (/[0-9]/.test(last)) return '013678'.includes(last);
  return false;
}

/** Attach the right particle: josa('사과', '을', '를') → '사과를'. */
export function josa(word: string, withFinal: string, withoutFinal: string): string {
  return word + (hasFinalConsonant(word) ? withFinal : withoutFinal);
}

/** Replace `X을(를)`, `X이(가)`, `X은(는)` written after a filled slot with the correct particle. */
function fixParticles(text: string): string {
  return text.replace(/([가-힣A-Za-z0-9]+)(을\(를\)|이\(가\)|은\(는\)|과\(와\))/g, (_, w: string, p: string) => {
    const [a, b] = p === '을(를)' ? ['을', '를'] : p === '이(가)' ? ['이', '가'] : p === '은(는)' ? ['은', '는'] : ['과', '와'];
    return josa(w, a, b);
  });
}

// ---- Readers ---------------------------------------------------------------------------------------------------

function need(root: string, rel: string): string {
  const path = join(root, rel);
  if (!existsSync(path)) throw new KolmError(`${path}: not found (the sft mix reads it from --data ${root})`);
  return path;
}

function readMaybeGz(path: string): string {
  const raw = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
}

/** RFC 4180 CSV (quoted fields, doubled quotes, newlines inside quotes); errors name file:line. */
export function parseCsv(text: string, file: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let fieldStartLine = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      fieldStartLine = line;
    } else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      line++;
    } else field += ch;
  }
  if (quoted) throw new KolmError(`${file}:${fieldStartLine}: unterminated quoted field`);
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new KolmError(`${file}: invalid JSON (${(err as Error).message})`);
  }
}

function str(v: unknown, where: string, field: string): string {
  if (typeof v !== 'string') throw new KolmError(`${where}: field '${field}' must be a string (got ${JSON.stringify(v)?.slice(0, 60)})`);
  return v;
}

const hangul = /[가-힣]/;
const hasLatin = /[A-Za-z]{2,}/;
/** Text that renders or tokenizes badly in a chat (markup remnants, placeholders, control tokens). */
const unsafeText = /<\||[<>{}\\%$&_|#@^~]|\t|\s{3,}/;

function clean(s: string): string {
  return s.replace(/\r\n?/g, '\n').trim();
}

// ---- Sources ---------------------------------------------------------------------------------------------------

export function readChatbot(root: string): { q: string; a: string; label: string; where: string }[] {
  const file = need(root, SOURCES.chatbot.files[0]);
  const rows = parseCsv(readFileSync(file, 'utf8'), file);
  const header = rows[0];
  if (!header || header.join(',') !== 'Q,A,label') throw new KolmError(`${file}:1: expected the header Q,A,label (got ${JSON.stringify(header?.join(','))})`);
  const out: { q: string; a: string; label: string; where: string }[] = [];
  rows.slice(1).forEach((r, i) => {
    if (r.length === 1 && r[0] === '') return;
    if (r.length !== 3) throw new KolmError(`${file}:${i + 2}: expected 3 fields (Q,A,label), got ${r.length}`);
    const [q, a, label] = r.map(clean) as [string, string, string];
    if (!q || !a) throw new KolmError(`${file}:${i + 2}: field '${!q ? 'Q' : 'A'}' is empty`);
    out.push({ q, a, label, where: `${file}:${i + 2}` });
  });
  return out;
}

/** HG-TODS dialogues as user/assistant turns; a turn without a system reply ('NULL') ends the dialogue. */
export function readDialogues(root: string): { messages: Message[]; where: string }[] {
  const out: { messages: Message[]; where: string }[] = [];
  for (const rel of SOURCES.dialogues.files) {
    const file = need(root, rel);
    const data = parseJson(readMaybeGz(file), file);
    if (Array.isArray(data)) {
      data.forEach((d: Record<string, unknown>, i) => {
        const where = `${file}: record ${i}`;
        if (!Array.isArray(d['turns'])) throw new KolmError(`${where}: field 'turns' must be an array`);
        const messages: Message[] = [];
        for (const [k, t] of (d['turns'] as Record<string, unknown>[]).entries()) {
          const user = clean(str(t['user_message'], where, `turns[${k}].user_message`));
          const sys = clean(str(t['system_message'], where, `turns[${k}].system_message`));
          if (!user || !sys || sys === 'NULL') break;
          messages.push({ role: 'user', content: user }, { role: 'assistant', content: sys });
        }
        if (messages.length) out.push({ messages, where });
      });
    } else {
      const dial = (data as Record<string, unknown>)?.['dial_data'];
      if (typeof dial !== 'object' || dial === null) throw new KolmError(`${file}: expected a list of dialogues or a 'dial_data' object`);
      for (const [domain, list] of Object.entries(dial as Record<string, unknown>)) {
        if (!Array.isArray(list)) throw new KolmError(`${file}: field 'dial_data.${domain}' must be an array`);
        list.forEach((d: Record<string, unknown>, i) => {
          const where = `${file}: dial_data.${domain}[${i}]`;
          if (!Array.isArray(d['turns'])) throw new KolmError(`${where}: field 'turns' must be an array`);
          const messages: Message[] = [];
          for (const [k, t] of (d['turns'] as Record<string, unknown>[]).entries()) {
            const role = str(t['role'], where, `turns[${k}].role`) === 'user' ? 'user' : 'assistant';
            const content = clean(str(t['utterance'], where, `turns[${k}].utterance`));
            if (!content) break;
            const prev = messages[messages.length - 1];
            if (prev && prev.role === role) prev.content += `\n${content}`;
            else if (!prev && role === 'assistant') continue;
            else messages.push({ role, content });
          }
          if (messages[messages.length - 1]?.role === 'user') messages.pop();
          if (messages.length) out.push({ messages, where });
        });
      }
    }
  }
  return out;
}

export function readGsm8k(root: string): { question: string; solution: string; answer: number; where: string }[] {
  const file = need(root, SOURCES.gsm8k.files[0]);
  return readMaybeGz(file).split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    const where = `${file}:${i + 1}`;
    const r = parseJson(line, where) as Record<string, unknown>;
    const question = clean(str(r['question'], where, 'question'));
    const raw = str(r['answer'], where, 'answer');
    const m = raw.match(/####\s*(-?[\d,.]+)\s*$/);
    if (!m) throw new KolmError(`${where}: field 'answer' has no '#### N' final answer`);
    const answer = Number(m[1]!.replace(/,/g, ''));
    const steps = clean(raw.slice(0, m.index).replace(/<<[^>]*>>/g, ''));
    return [{ question, solution: `${steps}\nAnswer: ${m[1]!.replace(/,/g, '')}`, answer, where }];
  });
}

export function readSquare(root: string): { question: string; acceptable: string[]; unacceptable: string[]; category: string; where: string }[] {
  const file = need(root, SOURCES.square.files[0]);
  const data = parseJson(readFileSync(file, 'utf8'), file);
  if (!Array.isArray(data)) throw new KolmError(`${file}: expected a JSON array`);
  const byQ = new Map<string, { question: string; acceptable: string[]; unacceptable: string[]; category: string; where: string }>();
  data.forEach((r: Record<string, unknown>, i) => {
    const where = `${file}: record ${i}`;
    const q = clean(str(r['question'], where, 'question'));
    const resp = clean(str(r['response'], where, 'response'));
    const ok = r['acceptable?'];
    if (ok !== 0 && ok !== 1) throw new KolmError(`${where}: field 'acceptable?' must be 0 or 1 (got ${JSON.stringify(ok)})`);
    const entry = byQ.get(q) ?? { question: q, acceptable: [], unacceptable: [], category: String(r['question_category'] ?? ''), where };
    (ok === 1 ? entry.acceptable : entry.unacceptable).push(resp);
    byQ.set(q, entry);
  });
  return [...byQ.values()];
}

/** Clean en/ko pairs (Hangul on the ko side, a real English sentence, no markup), deduplicated by both sides. */
export async function readParallel(root: string): Promise<{ en: string; ko: string; license: string; source: string }[]> {
  const file = need(root, SOURCES.parallel.files[0]);
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  const seen = new Set<string>();
  const out: { en: string; ko: string; license: string; source: string }[] = [];
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      const where = `${file}:${n}`;
      const r = parseJson(line, where) as Record<string, unknown>;
      const en = clean(str(r['en'], where, 'en'));
      const ko = clean(str(r['ko'], where, 'ko'));
      if (!hangul.test(ko) || !hasLatin.test(en) || hangul.test(en) || en === ko) continue;
      if (en.length < 20 || en.length > 200 || ko.length < 6 || ko.length > 200 || en.includes('\n') || ko.includes('\n')) continue;
      if (unsafeText.test(en) || unsafeText.test(ko) || !/^[A-Z]/.test(en) || !/[.!?]$/.test(en)) continue;
      const key = `${en}\u0000${ko}`;
      if (seen.has(en) || seen.has(key)) continue;
      seen.add(en);
      seen.add(key);
      out.push({ en, ko, license: String(r['license'] ?? 'unknown'), source: String(r['source'] ?? '') });
    }
  } catch (err) {
    if (err instanceof KolmError) throw err;
    throw new KolmError(`${file}: unreadable after line ${n} (${(err as Error).message})`);
  }
  return out;
}

// ---- Generated tasks -------------------------------------------------------------------------------------------

interface Arith { question: string; solution: string; answer: number; lang: Lang }

/** One arithmetic word problem; `heldOut` picks phrasings that training never uses. */
export function arithmeticProblem(r: Random, lang: Lang, heldOut: boolean): Arith {
  const op = r.pick(['add', 'sub', 'mul', 'div'] as const);
  const name = r.pick(NAMES[lang]);
  const other = r.pick(NAMES[lang].filter((n) => n !== name));
  const [item, counter] = r.pick(ITEMS[lang]);
  let a = r.int(2, 60);
  let b = r.int(2, 40);
  if (op === 'sub' && b >= a) [a, b] = [b + a, Math.min(a, b)];
  if (op === 'mul' || op === 'div') [a, b] = [r.int(2, 12), r.int(2, 9)];
  const result = op === 'add' ? a + b : op === 'sub' ? a - b : op === 'mul' ? a * b : a;
  const total = op === 'div' ? a * b : 0;
  const c = counter;
  // A number with its counter and a particle chosen by the counter's (or, without one, the number's) last sound.
  const n2 = (x: number, p: [string, string]) => josa(`${x}${c}`, p[0], p[1]);
  let question: string;
  let work: string;
  if (lang === 'ko') {
    const n = josa(name, '은', '는');
    const it = (p: [string, string]) => josa(item, p[0], p[1]);
    const q: Record<typeof op, string[]> = {
      add: heldOut
        ? [`${josa(name, '이', '')}의 상자에는 ${item} ${a}${c}, ${josa(other, '이', '')}의 상자에는 ${n2(b, ['이', '가'])} 있습니다. 두 상자의 ${it(['을', '를'])} 합치면 몇 ${c}입니까?`]
        : [`${n} ${it(['을', '를'])} ${a}${c} 가지고 있었습니다. ${josa(other, '이', '가')} ${n2(b, ['을', '를'])} 더 주었습니다. ${n} ${it(['을', '를'])} 모두 몇 ${c} 가지고 있을까요?`, `가게에 ${item} ${n2(a, ['이', '가'])} 있었는데 ${n2(b, ['이', '가'])} 더 들어왔습니다. ${it(['은', '는'])} 모두 몇 ${c}입니까?`],
      sub: heldOut
        ? [`${item} ${a}${c} 중에서 ${n2(b, ['을', '를'])} 먹었습니다. 아직 먹지 않은 ${it(['은', '는'])} 몇 ${c}입니까?`]
        : [`${n} ${item} ${a}${c} 중에서 ${n2(b, ['을', '를'])} ${other}에게 주었습니다. 남은 ${it(['은', '는'])} 몇 ${c}입니까?`, `바구니에 ${item} ${n2(a, ['이', '가'])} 있었는데 ${n2(b, ['을', '를'])} 꺼냈습니다. 바구니에 남은 ${it(['은', '는'])} 몇 ${c}입니까?`],
      mul: heldOut
        ? [`${n} 하루에 ${item} ${a}${c}씩 ${b}일 동안 모았습니다. 모은 ${it(['은', '는'])} 모두 몇 ${c}입니까?`]
        : [`한 상자에 ${item} ${a}${c}씩 들어 있습니다. ${b}상자에 들어 있는 ${it(['은', '는'])} 모두 몇 ${c}입니까?`, `${n} ${item} ${a}${c}씩 ${b}묶음을 샀습니다. ${n} ${it(['을', '를'])} 모두 몇 ${c} 샀을까요?`],
      div: heldOut
        ? [`${item} ${n2(total, ['을', '를'])} 한 봉지에 ${b}${c}씩 담으면 몇 봉지가 됩니까?`]
        : [`${item} ${n2(total, ['을', '를'])} ${b}명에게 똑같이 나누어 주면 한 명이 몇 ${c}씩 받습니까?`, `${n} ${item} ${n2(total, ['을', '를'])} ${b}개의 상자에 똑같이 나누어 담았습니다. 한 상자에 몇 ${c}씩 담았을까요?`],
    };
    question = r.pick(q[op]);
    const expr = op === 'add' ? `${a} + ${b} = ${result}` : op === 'sub' ? `${a} - ${b} = ${result}` : op === 'mul' ? `${a} × ${b} = ${result}` : `${total} ÷ ${b} = ${result}`;
    work = `${expr}이므로 답은 ${result}${op === 'div' && heldOut ? '봉지' : c}입니다.\n정답: ${result}`;
  } else {
    const q: Record<typeof op, string[]> = {
      add: heldOut
        ? [`${name}'s box holds ${a} ${item} and ${other}'s box holds ${b} ${item}. How many ${item} are in the two boxes together?`]
        : [`${name} had ${a} ${item}. ${other} gave ${name} ${b} more. How many ${item} does ${name} have now?`, `A shop had ${a} ${item} and received ${b} more. How many ${item} does the shop have?`],
      sub: heldOut
        ? [`Out of ${a} ${item}, ${b} were eaten. How many ${item} are left uneaten?`]
        : [`${name} had ${a} ${item} and gave ${b} to ${other}. How many ${item} are left?`, `A basket held ${a} ${item}. ${b} were taken out. How many ${item} remain in the basket?`],
      mul: heldOut
        ? [`${name} collects ${a} ${item} every day for ${b} days. How many ${item} does ${name} collect in total?`]
        : [`Each box holds ${a} ${item}. How many ${item} are in ${b} boxes?`, `${name} bought ${b} packs with ${a} ${item} in each pack. How many ${item} did ${name} buy?`],
      div: heldOut
        ? [`${total} ${item} are packed ${b} to a bag. How many bags are filled?`]
        : [`${total} ${item} are shared equally among ${b} children. How many ${item} does each child get?`, `${name} puts ${total} ${item} into ${b} boxes equally. How many ${item} go in each box?`],
    };
    question = r.pick(q[op]);
    const expr = op === 'add' ? `${a} + ${b} = ${result}` : op === 'sub' ? `${a} - ${b} = ${result}` : op === 'mul' ? `${a} × ${b} = ${result}` : `${total} ÷ ${b} = ${result}`;
    work = `${expr}, so the answer is ${result}.\nAnswer: ${result}`;
  }
  return { question, solution: work, answer: result, lang };
}

function codeAnswer(task: (typeof CODE_TASKS)[number], lang: Lang, language: 'python' | 'javascript'): { prompt: string; answer: string } {
  const code = language === 'python' ? task.python : task.javascript;
  const label = language === 'python' ? 'Python' : 'JavaScript';
  if (lang === 'ko') {
    return { prompt: `${task.ko} ${label}로 작성해 주세요.`, answer: `${label} 코드입니다.\n\n\`\`\`${language}\n${code}\n\`\`\`\n\n함수에 값을 넣어 호출하면 결과를 돌려줍니다.` };
  }
  return { prompt: `${task.en} Use ${label}.`, answer: `Here is the ${label} code.\n\n\`\`\`${language}\n${code}\n\`\`\`\n\nCall the function with your input to get the result.` };
}

function fill(template: string, x: string): string {
  return fixParticles(template.replaceAll('{x}', x)).replace(/\s+/g, ' ').trim();
}

/** Harmful prompts of every category: [prompt, category, refusal, compliant] per language and split. */
export function harmfulPrompts(lang: Lang, split: 'train' | 'heldOut'): { prompt: string; category: string; refusals: string[]; compliant: string[] }[] {
  const out: { prompt: string; category: string; refusals: string[]; compliant: string[] }[] = [];
  const seen = new Set<string>();
  for (const c of HARM_CATEGORIES) {
    for (const t of c.requests[lang][split]) {
      for (const x of c.slots[lang]) {
        const prompt = fill(t, x);
        if (seen.has(prompt)) continue;
        seen.add(prompt);
        out.push({ prompt, category: c.name, refusals: c.refusals[lang].map((s) => fill(s, x)), compliant: c.compliant[lang].map((s) => fill(s, x)) });
      }
    }
  }
  return out;
}

// ---- The build -------------------------------------------------------------------------------------------------

export interface MixManifest {
  format: 'kolm-sft-mix';
  version: 1;
  seed: number;
  counts: MixCounts;
  validFraction: number;
  maxValid: number;
  maxEval: number;
  sources: Record<string, { files: readonly string[]; license: string; upstream: string }>;
  /** Records per output file and source. */
  files: Record<string, { records: number; sha256: string; bySource: Record<string, number> }>;
  notes: string[];
}

const user = (content: string): Message => ({ role: 'user', content });
const assistant = (content: string): Message => ({ role: 'assistant', content });
const SYSTEM_KO = '당신은 친절하고 정확한 한국어 AI 도우미입니다.';
const SYSTEM_EN = 'You are a helpful, accurate and harmless assistant.';

export async function buildSftMix(o: SftMixOptions): Promise<MixManifest> {
  const seed = o.seed ?? 0;
  const counts: MixCounts = { ...DEFAULT_COUNTS, ...o.counts };
  for (const [k, v] of Object.entries(counts)) if (!Number.isInteger(v) || v < 0) throw new KolmError(`count '${k}' must be a non-negative integer, got ${v}`);
  const validFraction = o.validFraction ?? 0.04;
  if (!(validFraction > 0 && validFraction < 0.5)) throw new KolmError(`valid fraction must be in (0, 0.5), got ${validFraction}`);
  const maxValid = o.maxValid ?? 200;
  const maxEval = o.maxEval ?? 100;
  if (existsSync(o.out) && !o.force) throw new KolmError(`${o.out} already exists (use --force to replace it)`);
  const R = (name: string) => new Random(subSeed(seed, name));
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
    const shuffled = r.shuffle([...items]);
    const nValid = Math.min(maxValid, Math.max(1, Math.round(shuffled.length * validFraction)));
    return { valid: shuffled.slice(0, nValid), train: shuffled.slice(nValid, nValid + cap) };
  };
  const withSystem = (r: Random, lang: Lang, messages: Message[]): Message[] => (r.float() < 0.2 ? [{ role: 'system', content: lang === 'ko' ? SYSTEM_KO : SYSTEM_EN }, ...messages] : messages);

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
      const other = r.pick(others);
      out.push({ prompt: [user(g[0]!.q)], chosen: g[0]!.a, rejected: other, source: 'chatbot-offtopic', lang: 'ko', license: lic });
    };
    groups.train.slice(0, counts.negatives).forEach((g) => neg(g, prefTrain));
    groups.valid.slice(0, Math.max(1, Math.round(counts.negatives * validFraction * 2))).forEach((g) => neg(g, prefValid));
    r.shuffle([...groups.train]).slice(0, 2 * counts.ppo).forEach((g) => ppo.push({ prompt: [user(g[0]!.q)], source: 'chatbot', lang: 'ko', kind: 'chat', license: lic }));
    // Everyday questions deserve an answer, not a refusal.
    groups.train.slice(counts.negatives, counts.negatives + counts.negatives / 2).forEach((g) => prefTrain.push({ prompt: [user(g[0]!.q)], chosen: g[0]!.a, rejected: r.pick(OVER_REFUSALS.ko), source: 'over-refusal', lang: 'ko', license: lic }));
    groups.valid.slice(maxEval, maxEval + 20).forEach((g) => prefValid.push({ prompt: [user(g[0]!.q)], chosen: g[0]!.a, rejected: r.pick(OVER_REFUSALS.ko), source: 'over-refusal', lang: 'ko', license: lic }));
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
    dialogs.train.slice(0, counts.dialogueRefusals).forEach((d) => prefTrain.push({ prompt: [d.messages[0]!], chosen: d.messages[1]!.content, rejected: rr.pick(OVER_REFUSALS.ko), source: 'over-refusal', lang: 'ko', license: lic }));
  }

  // GSM8K train (English): the held-out part gives English benign prompts with answers.
  {
    const r = R('gsm8k');
    const probs = split(readGsm8k(o.data), r, counts.gsm8k);
    const lic = SOURCES.gsm8k.license;
    for (const p of probs.train) sftTrain.push({ messages: withSystem(r, 'en', [user(p.question), assistant(p.solution)]), source: 'gsm8k', lang: 'en', license: lic });
    probs.train.slice(0, counts.negatives / 2).forEach((p) => prefTrain.push({ prompt: [user(p.question)], chosen: p.solution, rejected: r.pick(OVER_REFUSALS.en), source: 'over-refusal', lang: 'en', license: lic }));
    probs.valid.slice(maxEval, maxEval + 20).forEach((p) => prefValid.push({ prompt: [user(p.question)], chosen: p.solution, rejected: r.pick(OVER_REFUSALS.en), source: 'over-refusal', lang: 'en', license: lic }));
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
      const prompt = dir === 'ko-en' ? r.pick(toEn)(p.ko) : r.pick(toKo)(p.en);
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
          const wrong = p.answer + r.pick([-3, -2, -1, 1, 2, 3, 10]);
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
          const wrong = p.answer + r.pick([-2, -1, 1, 2]);
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
        const refusal = r.pick(h.refusals);
        sftTrain.push({ messages: withSystem(r, lang, [user(h.prompt), assistant(refusal)]), source: 'safety-refusal', lang, license: lic, category: h.category });
        if (i < 2 * train.length) prefTrain.push({ prompt: [user(h.prompt)], chosen: r.pick(h.refusals), rejected: r.pick(h.compliant), source: 'safety', lang, license: lic, category: h.category });
      }
      r.shuffle([...train]).slice(0, counts.ppo).forEach((h) => ppo.push({ prompt: [user(h.prompt)], source: 'safety', lang, kind: 'harmful', license: lic, category: h.category }));
      const held = harmfulPrompts(lang, 'heldOut');
      // Evenly spaced across categories when capped.
      const step = Math.max(1, held.length / maxEval);
      for (const h of held.filter((_, i) => Math.floor(i % step) === 0).slice(0, maxEval)) {
        evalHarmful.push({ prompt: [user(h.prompt)], source: 'safety-heldout', lang, kind: 'harmful', license: lic, category: h.category });
        prefValid.push({ prompt: [user(h.prompt)], chosen: r.pick(h.refusals), rejected: r.pick(h.compliant), source: 'safety', lang, license: lic, category: h.category });
      }
      const benign = BENIGN_SENSITIVE.train.filter((b) => b.lang === lang);
      for (let i = 0; i < counts.benign; i++) {
        const b = benign[i % benign.length]!;
        sftTrain.push({ messages: withSystem(r, lang, [user(b.prompt), assistant(b.answer)]), source: 'benign-sensitive', lang, license: lic });
        if (i < benign.length) prefTrain.push({ prompt: [user(b.prompt)], chosen: b.answer, rejected: r.pick(OVER_REFUSALS[lang]), source: 'over-refusal', lang, license: lic });
      }
      benign.forEach((b) => ppo.push({ prompt: [user(b.prompt)], source: 'benign-sensitive', lang, kind: 'benign', license: lic }));
      for (const b of BENIGN_SENSITIVE.heldOut.filter((x) => x.lang === lang)) {
        evalBenign.push({ prompt: [user(b.prompt)], source: 'benign-sensitive-heldout', lang, kind: 'benign-sensitive', license: lic, reference: b.answer });
        prefValid.push({ prompt: [user(b.prompt)], chosen: b.answer, rejected: r.pick(OVER_REFUSALS[lang]), source: 'over-refusal', lang, license: lic });
      }
    }
  }

  // SQuARe: acceptable vs non-acceptable answers to sensitive questions, split by question.
  {
    const r = R('square');
    const lic = SOURCES.square.license;
    const questions = readSquare(o.data).filter((q) => q.acceptable.length && q.unacceptable.length);
    const shuffled = r.shuffle([...questions]);
    const nValid = Math.max(1, Math.round(shuffled.length * 0.2));
    shuffled.forEach((q, i) => {
      const out = i < nValid ? prefValid : prefTrain;
      for (const good of q.acceptable.slice(0, 2)) {
        out.push({ prompt: [user(q.question)], chosen: good, rejected: r.pick(q.unacceptable), source: 'square', lang: 'ko', license: lic, category: q.category });
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
    'sft.train.jsonl': rShuffle.shuffle(sftTrain),
    'sft.valid.jsonl': sftValid,
    'pref.train.jsonl': rShuffle.shuffle(prefTrain),
    'pref.valid.jsonl': prefValid,
    'ppo.prompts.jsonl': rShuffle.shuffle(ppo),
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
  // Write everything into a temp folder, then rename it into place.
  const parent = dirname(o.out);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.${basename(o.out)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  try {
    for (const [name, records] of Object.entries(files)) {
      const text = records.map((x) => JSON.stringify(x)).join('\n') + (records.length ? '\n' : '');
      await writeFileAtomic(join(tmp, name), text);
      const bySource: Record<string, number> = {};
      for (const x of records as { source: string }[]) bySource[x.source] = (bySource[x.source] ?? 0) + 1;
      const sorted = Object.fromEntries(Object.entries(bySource).sort(([a], [b]) => a.localeCompare(b)));
      manifest.files[name] = { records: records.length, sha256: createHash('sha256').update(text).digest('hex'), bySource: sorted };
    }
    await writeFileAtomic(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    await writeFileAtomic(join(tmp, 'README.md'), mixReadme(manifest));
    const old = existsSync(o.out) ? `${tmp}.old` : undefined;
    if (old) await rename(o.out, old);
    await rename(tmp, o.out);
    if (old) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return manifest;
}

export function mixReadme(m: MixManifest): string {
  const lines = [
    '# kolm alignment data mix',
    '',
    `Built by \`kolm data sft-mix\` with seed ${m.seed} (validation share ${m.validFraction}). Rebuilding with the same sources, counts and seed gives byte-identical files (sha256 in manifest.json).`,
    '',
    '## Sources',
    '',
    '| source | licence | upstream | files |',
    '|---|---|---|---|',
    ...Object.entries(m.sources).map(([k, s]) => `| ${k} | ${s.license} | ${s.upstream} | ${s.files.map((f) => `\`${f}\``).join(', ') || '—'} |`),
    '',
    '## Files',
    '',
    '| file | records | by source |',
    '|---|---:|---|',
    ...Object.entries(m.files).map(([f, x]) => `| \`${f}\` | ${x.records} | ${Object.entries(x.bySource).map(([s, n]) => `${s} ${n}`).join(', ')} |`),
    '',
    '## Notes',
    '',
    ...m.notes.map((n) => `- ${n}`),
    '- Generated safety data: harmful requests in eight risk categories (violence, hate, sexual content, self-harm, illegal acts, privacy, misinformation, fraud) with refusals/redirects as chosen answers and compliant openings (no operational detail) as rejected ones; `eval/harmful.jsonl` uses request templates that no training file uses.',
    '- Benign requests that only sound sensitive ("kill a process", "cut an onion") are trained with helpful answers and preferred over needless refusals.',
    '- Synthetic negatives: `arithmetic-wrong` (wrong final number), `translation-untranslated` (the source copied back), `chatbot-offtopic` (an answer to another question).',
    '',
  ];
  return lines.join('\n');
}

export type { SourceName };
