/**
 * Readers of the mix's real sources (chatbot_data CSV, HG-TODS dialogues, GSM8K, SQuARe, the Debian en/ko pairs).
 * Each validates what it reads and names file:line (or the record) in its errors.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync, createGunzip } from 'node:zlib';
import { hasHangulSyllable } from '../../text/hangul.js';
import { KolmError } from '../../util/errors.js';
import { SOURCES, type Message } from './types.js';

export function need(root: string, rel: string): string {
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

const hasLatin = /[A-Za-z]{2,}/;
/** Text that renders or tokenizes badly in a chat (markup remnants, placeholders, control tokens). */
const unsafeText = /<\||[<>{}\\%$&_|#@^~]|\t|\s{3,}/;

function clean(s: string): string {
  return s.replace(/\r\n?/g, '\n').trim();
}

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
      if (!hasHangulSyllable(ko) || !hasLatin.test(en) || hasHangulSyllable(en) || en === ko) continue;
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
