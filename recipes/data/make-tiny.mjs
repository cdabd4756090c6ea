#!/usr/bin/env node
/**
 * Regenerates recipes/data/tiny/ — a miniature of the shared data folder (same relative paths and formats) — from
 * ../shared/data, byte for byte:
 *
 *   node recipes/data/make-tiny.mjs [--shared ../shared/data] [--out recipes/data/tiny]
 *
 * Plain Node (no build, no dependencies). Selection rule, the same everywhere: the eligible records of a file are
 * ordered by the sha256 of their exact bytes (a fixed pseudo-random order that does not depend on the machine), taken
 * in that order until the budget is reached, and written in their original order with their original bytes (JSONL
 * lines, CSV rows) or re-serialized exactly as upstream formats them (JSON arrays/objects with 4-space indentation).
 * gzip: level 9, header mtime 0. The README (file table with counts and sha256) is written by this script too.
 */
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createGunzip, gunzipSync, gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const SHARED = resolve(opt('shared', join(here, '../../../shared/data')));
const OUT = resolve(opt('out', join(here, 'tiny')));

// ---- the rule ------------------------------------------------------------------------------------------------------

/** Budgets: UTF-8 bytes of `text` for documents, pairs for the parallel file, records for the external sets. */
const BUDGET = { ko: 600_000, en: 600_000, code: 600_000, parallel: 3000, chatbot: 500, gsm8k: 400, musicDialogues: 40, manualDialogues: 25, squareRecords: 240 };
/** Documents shorter or longer than this (characters) are not taken: too short to survive the quality filter, or
 * one document would be a large share of the tiny corpus. */
const MIN_CHARS = 200;
const MAX_CHARS = 30_000;

/**
 * Licences whose text may be redistributed in an Apache-2.0 repository with attribution (the records keep `source`
 * and `license`). Copyleft (GPL, LGPL, GFDL, CC-BY-SA, LPPL), licences that need their own notice reproduced
 * (PostgreSQL, TCL, curl, OpenSSH) and mixed-authorship collections (fortunes) are left out.
 */
const PERMISSIVE = new Set([
  'MIT', 'ISC', 'Zlib', '0BSD', 'BSD-2-Clause', 'BSD-3-Clause', 'Apache-2.0', 'MPL-2.0', 'CC0-1.0', 'PSF-2.0',
  'LicenseRef-public-domain', 'LicenseRef-Debian-package-descriptions', 'LicenseRef-DebianFAQ-permissive',
]);
/** An SPDX-ish expression is allowed when one OR-alternative has only allowed AND-terms. */
export function permissive(expr) {
  if (typeof expr !== 'string') return false;
  return expr.split(/\s+OR\s+/).some((alt) => alt.replace(/^\(|\)$/g, '').split(/\s+AND\s+/).every((t) => PERMISSIVE.has(t.trim()) || /^CC-BY-\d[\d.]*$/.test(t.trim())));
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const hangulRe = /[\uac00-\ud7a3]/g;
const latinRe = /[A-Za-z]/g;
const count = (s, re) => (s.match(re) ?? []).length;

/** Take items in sha256 order until `full(taken)`; return their indices in original order. */
function choose(items, full) {
  const order = items.map((it, i) => [it.key, i]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  const taken = [];
  const state = { n: 0, bytes: 0 };
  for (const [, i] of order) {
    if (full(state)) break;
    taken.push(i);
    state.n++;
    state.bytes += items[i].size ?? 0;
  }
  return taken.sort((a, b) => a - b);
}

async function* lines(file) {
  const input = createReadStream(file).pipe(createGunzip());
  yield* createInterface({ input, crlfDelay: Infinity });
}

// ---- writers ---------------------------------------------------------------------------------------------------------

const written = [];
function write(rel, text, meta) {
  const path = join(OUT, rel);
  mkdirSync(dirname(path), { recursive: true });
  const raw = Buffer.from(text, 'utf8');
  const bytes = rel.endsWith('.gz') ? gzipSync(raw, { level: 9 }) : raw;
  writeFileSync(path, bytes);
  written.push({ rel, bytes: bytes.length, textBytes: raw.length, sha256: sha256(bytes), contentSha256: sha256(raw), ...meta });
}
function copy(rel, upstreamRel, meta) {
  const src = join(SHARED, upstreamRel);
  if (!existsSync(src)) return;
  const path = join(OUT, rel);
  mkdirSync(dirname(path), { recursive: true });
  copyFileSync(src, path);
  const b = readFileSync(path);
  written.push({ rel, bytes: b.length, textBytes: b.length, sha256: sha256(b), contentSha256: sha256(b), ...meta });
}

// ---- raw/ ------------------------------------------------------------------------------------------------------------

/** Two passes over a JSONL.gz: keys of eligible lines, then the chosen lines verbatim. */
async function subsetJsonl(rel, eligible, full, describe, heldout) {
  const file = join(SHARED, rel);
  const items = [];
  let n = 0;
  for await (const line of lines(file)) {
    n++;
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    const size = eligible(r);
    if (size === false) continue;
    items.push({ key: sha256(line), line: n, size });
  }
  const taken = choose(items, full);
  const chosen = new Set(taken.map((i) => items[i].line));
  // Held-out documents for evaluation: the next eligible ones in the same order, never in the training files.
  const held = heldout ? new Set(items.map((it, i) => [it.key, i]).sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, i]) => i).slice(taken.length, taken.length + heldout.n).map((i) => items[i].line)) : new Set();
  const heldLines = [];
  const out = [];
  const byLicense = {};
  const bySource = {};
  let textChars = 0;
  n = 0;
  for await (const line of lines(file)) {
    n++;
    if (held.has(n)) {
      const r = JSON.parse(line);
      heldLines.push(JSON.stringify({ text: r.text.slice(0, heldout.maxChars), source: r.source, license: r.license }));
    }
    if (!chosen.has(n)) continue;
    out.push(line);
    const r = JSON.parse(line);
    byLicense[r.license] = (byLicense[r.license] ?? 0) + 1;
    const pkg = String(r.source).split(':')[0];
    bySource[pkg] = (bySource[pkg] ?? 0) + 1;
    textChars += describe(r);
  }
  write(rel, out.map((l) => l + '\n').join(''), { records: out.length, eligible: items.length, byLicense, bySource, textChars, upstream: `../shared/data/${rel}` });
  if (heldout) write(heldout.rel, heldLines.map((l) => l + '\n').join(''), { records: heldLines.length, upstream: `../shared/data/${rel}`, note: `held out for evaluation: the next ${heldout.n} eligible documents (first ${heldout.maxChars} characters), not in ${rel}` });
}

const docSize = (r) => Buffer.byteLength(r.text, 'utf8');
const inLength = (s) => s.length >= MIN_CHARS && s.length <= MAX_CHARS;

async function raw() {
  await subsetJsonl('raw/ko.jsonl.gz', (r) => {
    if (!permissive(r.license) || !inLength(r.text)) return false;
    const h = count(r.text, hangulRe);
    return h >= 0.3 * (h + count(r.text, latinRe)) ? docSize(r) : false;
  }, (s) => s.bytes >= BUDGET.ko, (r) => r.text.length, { rel: 'heldout/ko.jsonl', n: 40, maxChars: 1500 });
  await subsetJsonl('raw/en.jsonl.gz', (r) => (permissive(r.license) && inLength(r.text) && !/[\uac00-\ud7a3]/.test(r.text) ? docSize(r) : false),
    (s) => s.bytes >= BUDGET.en, (r) => r.text.length, { rel: 'heldout/en.jsonl', n: 40, maxChars: 1500 });
  await subsetJsonl('raw/code.jsonl.gz', (r) => (permissive(r.license) && inLength(r.text) ? docSize(r) : false),
    (s) => s.bytes >= BUDGET.code, (r) => r.text.length);
  await subsetJsonl('raw/parallel.en-ko.jsonl.gz', (r) => {
    if (!permissive(r.license) || typeof r.ko !== 'string' || typeof r.en !== 'string' || r.ko === r.en) return false;
    return count(r.ko, hangulRe) > 0 ? Buffer.byteLength(r.en + r.ko, 'utf8') : false;
  }, (s) => s.n >= BUDGET.parallel, (r) => r.en.length + r.ko.length);
}

// ---- external/ -------------------------------------------------------------------------------------------------------

/** Raw CSV records (RFC 4180: a quoted field may hold commas, doubled quotes and newlines), without terminators. */
function csvRecords(text) {
  const out = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === '\n' && !quoted) {
      out.push(text.slice(start, text[i - 1] === '\r' ? i - 1 : i));
      start = i + 1;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

const json4 = (x) => JSON.stringify(x, null, 4);
const readText = (rel) => {
  const b = readFileSync(join(SHARED, rel));
  return (rel.endsWith('.gz') ? gunzipSync(b) : b).toString('utf8');
};

function external() {
  // chatbot_data: header + rows; upstream has LF line ends and no final newline.
  {
    const rel = 'external/chatbot_data/ChatbotData.csv';
    const [header, ...rows] = csvRecords(readText(rel));
    const items = rows.map((r) => ({ key: sha256(r) }));
    const taken = choose(items, (s) => s.n >= BUDGET.chatbot).map((i) => rows[i]);
    const byLabel = {};
    for (const r of taken) byLabel[r.slice(r.lastIndexOf(',') + 1)] = (byLabel[r.slice(r.lastIndexOf(',') + 1)] ?? 0) + 1;
    write(rel, [header, ...taken].join('\n'), { records: taken.length, eligible: rows.length, byLabel, license: 'MIT', upstream: 'github.com/songys/Chatbot_data @ 4cf20d13fc46 ChatbotData.csv' });
    copy('external/chatbot_data/LICENSE', 'external/chatbot_data/LICENSE', { license: 'MIT', upstream: 'LICENSE' });
  }
  // HG-TODS: JSON arrays (music) and {"dial_data": {domain: [...]}} (manual), 4-space indented, no final newline.
  {
    const up = 'github.com/NLPlab-skku/HG-TODS @ 7c8cea000b82 DialogueDataset/';
    for (const name of ['dev_dialog.json.gz', 'test_dialog.json.gz']) {
      const rel = `external/hg-tods-dialogues/Music_commonsense_knowledge_graph_grounded_dialogues/${name}`;
      const data = JSON.parse(readText(rel));
      const taken = choose(data.map((d) => ({ key: sha256(JSON.stringify(d)) })), (s) => s.n >= BUDGET.musicDialogues).map((i) => data[i]);
      write(rel, json4(taken), { records: taken.length, eligible: data.length, license: 'MIT', upstream: up + rel.split('/').slice(2).join('/').replace(/\.gz$/, '') });
    }
    for (const name of ['manual2dial_dial_validation.json.gz', 'manual2dial_dial_test.json.gz']) {
      const rel = `external/hg-tods-dialogues/Manual_grounded_dialogue_dataset/${name}`;
      const data = JSON.parse(readText(rel));
      const dial = {};
      let records = 0;
      let eligible = 0;
      for (const [domain, list] of Object.entries(data.dial_data)) {
        dial[domain] = choose(list.map((d) => ({ key: sha256(JSON.stringify(d)) })), (s) => s.n >= BUDGET.manualDialogues).map((i) => list[i]);
        records += dial[domain].length;
        eligible += list.length;
      }
      write(rel, json4({ ...data, dial_data: dial }), { records, eligible, license: 'MIT', upstream: up + rel.split('/').slice(2).join('/').replace(/\.gz$/, '') });
    }
    copy('external/hg-tods-dialogues/LICENSE', 'external/hg-tods-dialogues/LICENSE', { license: 'MIT', upstream: 'LICENSE' });
  }
  // GSM8K train: JSONL lines verbatim.
  {
    const rel = 'external/gsm8k/train.jsonl.gz';
    const rows = readText(rel).split('\n').filter((l) => l.trim());
    const taken = choose(rows.map((r) => ({ key: sha256(r) })), (s) => s.n >= BUDGET.gsm8k).map((i) => rows[i]);
    write(rel, taken.map((l) => l + '\n').join(''), { records: taken.length, eligible: rows.length, license: 'MIT', upstream: 'github.com/openai/grade-school-math @ 3101c7d50724 grade_school_math/data/train.jsonl' });
    copy('external/gsm8k/LICENSE', 'external/gsm8k/LICENSE', { license: 'MIT', upstream: 'LICENSE' });
  }
  // SQuARe OOD responses: whole questions (all their responses), so acceptable/non-acceptable pairs stay together.
  {
    const rel = 'external/square/response_test_ood.json';
    const data = JSON.parse(readText(rel));
    const questions = [...new Set(data.map((r) => r.question))];
    const perQ = new Map();
    for (const r of data) perQ.set(r.question, (perQ.get(r.question) ?? 0) + 1);
    const items = questions.map((q) => ({ key: sha256(q), size: perQ.get(q) }));
    const keep = new Set(choose(items, (s) => s.bytes >= BUDGET.squareRecords).map((i) => questions[i]));
    const taken = data.filter((r) => keep.has(r.question));
    write(rel, json4(taken), { records: taken.length, eligible: data.length, questions: keep.size, license: 'MIT', upstream: 'github.com/naver-ai/korean-safety-benchmarks @ e32837cd19c4 data/SQuARe/response_test_ood.json' });
    copy('external/square/LICENSE', 'external/square/LICENSE', { license: 'MIT', upstream: 'LICENSE' });
  }
}

// ---- README ----------------------------------------------------------------------------------------------------------

const fmt = (n) => n.toLocaleString('en-US');
const list = (o) => Object.entries(o).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k} ${fmt(v)}`).join(' · ');

function readme() {
  const rawFiles = written.filter((w) => w.rel.startsWith('raw/'));
  const extFiles = written.filter((w) => w.rel.startsWith('external/'));
  const total = written.reduce((s, w) => s + w.bytes, 0);
  const row = (w) => `| \`${w.rel}\` | ${w.records === undefined ? '(licence text)' : fmt(w.records)} | ${fmt(w.textBytes)} | ${fmt(w.bytes)} | \`${w.sha256}\` |`;
  return `# Tiny corpus (in-repo miniature of the shared data folder)

A small, redistributable slice of \`../shared/data\` with **the same relative paths and file formats**, so everything
that reads the shared folder reads this one unchanged:

\`\`\`sh
kolm tokenizer train --input recipes/data/tiny/raw/{ko,en,code}.jsonl.gz --vocab-size 4096 --out .kolm-cache/tiny-tokenizer
kolm data build --config recipes/data/tiny.data.json --out .kolm-cache/tiny-corpus     # tokenizer: .kolm-cache/tiny-tokenizer
kolm data sft-mix --data recipes/data/tiny --out .kolm-cache/tiny-mix
\`\`\`

It exists for the \`tiny\` end-to-end recipe and for CI, which have no \`../shared\`. It is **generated, not edited**:
\`node recipes/data/make-tiny.mjs\` rewrites every file here (this README included) from \`../shared/data\`, byte for
byte (Node's bundled zlib, gzip level 9, header mtime 0; the uncompressed content sha256 is listed too, in case
another zlib build compresses differently).

Total on disk: **${fmt(total)} bytes** in ${written.length} files, plus this README.

Measured on the project's shared 2-core machine (load 4–8 from other jobs): tokenizer training (vocab 4,096) 3.2 s,
\`kolm data build\` 6.2 s with one worker (≈ 0.80 M training tokens: ko 0.25 M / en 0.27 M / code 0.27 M, 80 FIM
documents; validation 75 documents / 24 k tokens), \`kolm data sft-mix\` with the default counts 1.0 s,
this script 7 s.

## How it was made

- **Eligible records.** A record is eligible when its \`license\` is permissive (an SPDX expression with one
  \`OR\` alternative made only of: ${[...PERMISSIVE].join(', ')}, CC-BY-*), and for documents when its text has
  ${MIN_CHARS}–${fmt(MAX_CHARS)} characters; Korean documents need Hangul to be at least 30% of their letters (Hangul +
  Latin), English documents must have no Hangul; parallel pairs need Hangul on the \`ko\` side and \`ko ≠ en\`.
  Left out: GPL/LGPL/GFDL/CC-BY-SA/LPPL text, PostgreSQL/TCL/curl/OpenSSH (their own notice must travel with every
  copy), fortunes (mixed-authorship quotations) and anything else not on the list.
- **Selection.** Eligible records are ordered by the sha256 of their exact bytes (JSONL line, CSV row, compact JSON
  of a dialogue, a SQuARe question) and taken in that order until the budget is reached: ko/en/code ${fmt(BUDGET.ko)} bytes of
  \`text\` each, ${fmt(BUDGET.parallel)} parallel pairs, ${BUDGET.chatbot} chatbot rows, ${BUDGET.gsm8k} GSM8K problems, ${BUDGET.musicDialogues} dialogues per HG-TODS music
  file and ${BUDGET.manualDialogues} per domain per manual file, SQuARe questions until ${BUDGET.squareRecords} responses. The chosen records are written in
  their original order.
- **Formats.** JSONL lines and CSV rows are copied verbatim (every record keeps its \`source\` and \`license\`); JSON
  files are re-serialized the way upstream is formatted (4-space indentation, UTF-8, no final newline), so
  \`JSON.stringify(JSON.parse(upstream), null, 4)\` of the full upstream file reproduces it exactly.

## Files

| file | records | bytes (uncompressed) | bytes on disk | sha256 (on disk) |
|---|---:|---:|---:|---|
${written.map(row).join('\n')}

Uncompressed content sha256: ${written.filter((w) => w.rel.endsWith('.gz')).map((w) => `\`${w.rel}\` \`${w.contentSha256}\``).join('; ')}.

## raw/ — Debian 12 package text (per-record licences)

Upstream: \`../shared/data/raw\` (Debian bookworm packages, see its README and \`sources.tsv\` for package versions).
\`source\` is \`<debian-package>:<path in the package>[#fragment]\`; \`license\` is the licence of that text.

${rawFiles.map((w) => `### \`${w.rel}\`

${fmt(w.records)} records (${fmt(w.eligible)} eligible upstream), ${fmt(w.textChars)} characters of text.

- licences: ${list(w.byLicense)}
- packages: ${list(w.bySource)}
`).join('\n')}
Notices: MPL-2.0 text (LibreOffice help and UI strings) is subject to the Mozilla Public License 2.0,
<https://mozilla.org/MPL/2.0/>; PSF-2.0 text (CPython 3.11 standard library and documentation) is under the PSF License
Agreement, Copyright © 2001 Python Software Foundation, all rights reserved; Go sources are Copyright The Go Authors
(BSD-3-Clause, <https://go.dev/LICENSE>); Rust library sources are Copyright The Rust Project Developers (MIT OR
Apache-2.0); JavaScript modules keep their own headers and \`license\` (MIT, ISC, BSD, Apache-2.0) with the npm package
named in \`source\`; Debian package descriptions (DDTP) and the Debian FAQ are distributed under Debian's terms for
them. Licence headers inside source files are kept as shipped.

## external/ — SFT and preference data read by \`kolm data sft-mix\`

| folder | upstream | licence | records here / upstream |
|---|---|---|---|
${extFiles.filter((w) => w.records !== undefined).map((w) => `| \`${w.rel}\` | ${w.upstream} | ${w.license} (\`LICENSE\` copied) | ${fmt(w.records)} / ${fmt(w.eligible)}${w.questions ? ` (${w.questions} questions)` : ''}${w.byLabel ? ` (label ${list(w.byLabel)})` : ''} |`).join('\n')}

Only the training-licensed files that \`kolm data sft-mix\` reads are here (its \`SOURCES\` table); evaluation sets
are not.
`;
}

// ---- main ------------------------------------------------------------------------------------------------------------

if (!existsSync(join(SHARED, 'raw/ko.jsonl.gz'))) {
  console.error(`${SHARED}: no raw/ko.jsonl.gz (pass --shared DIR, the shared data folder)`);
  process.exit(1);
}
rmSync(join(OUT, 'raw'), { recursive: true, force: true });
rmSync(join(OUT, 'external'), { recursive: true, force: true });
await raw();
external();
writeFileSync(join(OUT, 'README.md'), readme());
for (const w of written) console.log(`${w.rel.padEnd(95)} ${String(w.records ?? '-').padStart(6)} ${String(w.bytes).padStart(9)}`);
console.log(`total ${written.reduce((s, w) => s + w.bytes, 0)} bytes → ${relative(process.cwd(), OUT) || '.'}`);
