/**
 * `kolm data build`: two streaming passes.
 *  1. read → normalize → langid → quality → pii → safety → dedup → tokenize, per document; survivors' tokens go to
 *     a spool file, and only small per-document numbers (offset, length, labels, hash) stay in memory.
 *  2. mix (rates per language group, copies per document, train/validation by document), deterministic shuffle,
 *     FIM on code, pack into shards with EOS after each document.
 * Everything is written to a temporary sibling directory that is renamed into place at the end, so a failed or
 * interrupted build leaves no partial output.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { Rng, rng, shuffleInPlace } from '../util/random.js';
import type { DataConfig } from './config.js';
import { sourceDocuments } from './documents.js';
import { Deduplicator } from './dedup.js';
import { BadInputError } from './errors.js';
import { fimTokens, fimTransform } from './fim.js';
import { hash2 } from './hash.js';
import { copiesFor, isValidation, planMix, type MixPlan } from './mix.js';
import { DocProcessor, docInput, type DocInput, type Processed, type ProcessStage } from './process.js';
import { ProcessorPool, type BatchResult } from './workers.js';
import { dtypeFor, emptySummary, INDEX_FILE, INDEX_FORMAT, ShardWriter, type ShardIndex, type Split, type SplitSummary } from './shards.js';
import { expandPaths } from './sources.js';
import { TokenSpool } from './spool.js';
import { bump, round, sortedCounts, StageStats, type StageReport } from './stats.js';
import { renderSummary } from './summary.js';
import { EOS_TOKEN, LANGS, type Lang, type TextTokenizer } from './types.js';

export interface BuildOptions {
  config: DataConfig;
  outDir: string;
  tokenizer: TextTokenizer;
  /** Overrides config.seed. */
  seed?: number;
  /** Count and skip bad records/files instead of failing. */
  skipBad?: boolean;
  /** Replace an existing output directory. */
  force?: boolean;
  progress?: boolean;
  /**
   * Worker threads for stages 1-5 and tokenization (0: all in this thread). Workers load the tokenizer from
   * `tokenizerDir`, or from a copy the build saves when the tokenizer can save itself.
   */
  workers?: number;
  tokenizerDir?: string;
}

/** A directory the workers can load the tokenizer from. */
async function tokenizerDirFor(tok: TextTokenizer, opts: BuildOptions, tmp: string): Promise<string> {
  if (opts.tokenizerDir) return opts.tokenizerDir;
  const saver = tok as TextTokenizer & { save?: (dir: string) => Promise<void> };
  if (!saver.save) throw new KolmError('workers need tokenizerDir (the tokenizer cannot be saved for them)');
  const dir = join(tmp, 'tokenizer.tmp');
  await saver.save(dir);
  return dir;
}

export interface BuildStats {
  seed: number;
  /** Worker threads used; stage seconds are summed over them. */
  workers: number;
  config: DataConfig;
  tokenizer: { hash: string; vocabSize: number };
  input: { files: { source: string; file: string; bytes: number }[]; bytes: number; diskBytes: number; records: number };
  stages: Record<string, StageReport>;
  badInput: string[];
  /** Records read, documents formed, documents kept after filtering and drops by 'stage:reason', per source. */
  bySource: Record<string, { records: number; documents: number; kept: number; dropped: Record<string, number> }>;
  filtered: Record<string, { documents: number; tokens: number; chars: number }>;
  mix: { totalTokens: number; groups: (MixPlan['groups'][number] & { tokens: number; share: number })[] };
  output: Record<Split, SplitSummary>;
  seconds: number;
  mbPerSecond: number;
}

export interface BuildResult { outDir: string; index: ShardIndex; stats: BuildStats; }

const STAGES = ['read', 'normalize', 'langid', 'quality', 'pii', 'safety', 'dedup', 'tokenize', 'mix', 'pack'] as const;

export async function buildCorpus(opts: BuildOptions): Promise<BuildResult> {
  const outDir = resolve(opts.outDir);
  if (existsSync(outDir) && !opts.force) throw new KolmError(`${outDir} already exists (use --force to replace it)`);
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const onSignal = (sig: NodeJS.Signals) => {
    rmSync(tmp, { recursive: true, force: true });
    process.kill(process.pid, sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await build(opts, tmp);
    if (existsSync(outDir)) {
      const old = `${tmp}.old`;
      renameSync(outDir, old);
      renameSync(tmp, outDir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, outDir);
    }
    return { ...result, outDir };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface DocTable {
  offset: number[];
  length: number[];
  lang: number[];
  source: number[];
  validation: number[];
}

async function build(opts: BuildOptions, dir: string): Promise<Omit<BuildResult, 'outDir'>> {
  const started = performance.now();
  const cfg = opts.config;
  const seed = opts.seed ?? cfg.seed;
  const tok = opts.tokenizer;
  const eosId = tok.tokenId(EOS_TOKEN);
  if (eosId === undefined) throw new KolmError(`tokenizer has no ${EOS_TOKEN} token`);
  const fimIds = cfg.fim.rate > 0 ? fimTokens(tok) : undefined;
  const dtype = dtypeFor(tok.vocabSize);
  const st = Object.fromEntries(STAGES.map((s) => [s, new StageStats(s)])) as Record<(typeof STAGES)[number], StageStats>;
  const dedup = new Deduplicator({ ...cfg.dedup, seed: seed + 1 });
  const sourceNames = cfg.sources.map((s) => s.name);
  const weights = cfg.sources.map((s) => s.weight ?? 1);
  const badInput: string[] = [];
  const bySource: BuildStats['bySource'] = {};
  const input: BuildStats['input'] = { files: [], bytes: 0, diskBytes: 0, records: 0 };
  const filtered: BuildStats['filtered'] = Object.fromEntries(LANGS.map((l) => [l, { documents: 0, tokens: 0, chars: 0 }]));
  const available = { ko: 0, en: 0, code: 0, other: 0 } as Record<Lang, number>;
  const docs: DocTable = { offset: [], length: [], lang: [], source: [], validation: [] };
  const spool = new TokenSpool(join(dir, 'spool.tmp'), dtype);

  /** Stage 6 (in input order) and the spool for one processed document; 'stage:reason' when it is dropped. */
  const accept = (r: Processed, sourceIdx: number): true | string => {
    if (r.drop !== undefined) return r.drop;
    const t = performance.now();
    st.dedup.in++;
    const dup = dedup.decide(r.fingerprint);
    st.dedup.seconds += performance.now() - t;
    if (dup) { st.dedup.drop(dup); return `dedup:${dup}`; }
    st.dedup.kept++;
    st.tokenize.in++;
    st.tokenize.charsIn += r.chars;
    if (!r.ids.length) { st.tokenize.drop('no-tokens'); return 'tokenize:no-tokens'; }
    st.tokenize.kept++;
    const val = isValidation(cfg.mix.validation, seed, r.fingerprint.exact[0]) ? 1 : 0;
    docs.offset.push(spool.write(r.ids));
    docs.length.push(r.ids.length);
    docs.lang.push(LANGS.indexOf(r.lang));
    docs.source.push(sourceIdx);
    docs.validation.push(val);
    const f = filtered[r.lang];
    f.documents++; f.tokens += r.ids.length; f.chars += r.chars;
    if (!val) available[r.lang] += r.ids.length * weights[sourceIdx];
    return true;
  };

  // Stages 1-5 + fingerprint + tokenize run here or in worker threads; results are taken in submission order.
  const local = opts.workers ? undefined : new DocProcessor(cfg, seed, tok);
  const pool = opts.workers ? await ProcessorPool.start(opts.workers, { config: cfg, seed, tokenizerDir: await tokenizerDirFor(tok, opts, dir), tokenizerHash: tok.hash }) : undefined;
  const runBatch = (batch: DocInput[]): Promise<BatchResult> =>
    pool ? pool.process(batch) : Promise.resolve({ results: batch.map((d) => local!.process(d)), stats: local!.takeStats() });
  const inFlight = Math.max(2, 3 * (opts.workers ?? 0));
  try {
    // Pass 1: read, then stages 1-6 and tokenize, document by document.
    for (const [sourceIdx, src] of cfg.sources.entries()) {
      const files = await expandPaths(src.path as string[]);
      const sizes = files.map((f) => statSync(f).size);
      files.forEach((file, i) => input.files.push({ source: src.name, file, bytes: sizes[i] }));
      const bar = new Progress(`read ${src.name}`, sizes.reduce((a, b) => a + b, 0) / 1e6, 'MB', opts.progress ?? false);
      const readIn = st.read.in, readKept = st.read.kept;
      bySource[src.name] = { records: 0, documents: 0, kept: 0, dropped: {} };
      const onBad = opts.skipBad ? (e: BadInputError) => { st.read.drop(e.kind); if (badInput.length < 50) badInput.push(e.message); } : undefined;
      let t = performance.now();
      const pending: Promise<BatchResult>[] = [];
      let batch: DocInput[] = [];
      let batchChars = 0;
      const take = async () => {
        const { results, stats } = await pending.shift()!;
        for (const [name, report] of Object.entries(stats)) st[name as ProcessStage].add(report);
        for (const r of results) {
          const outcome = accept(r, sourceIdx);
          if (outcome === true) bySource[src.name].kept++;
          else bump(bySource[src.name].dropped, outcome);
        }
      };
      const submit = () => {
        if (batch.length) pending.push(runBatch(batch));
        batch = [];
        batchChars = 0;
      };
      for await (const doc of sourceDocuments(src, files, st.read, {
        onBad,
        onDiskBytes: (n) => { input.diskBytes += n; bar.tick(n / 1e6, `${docs.offset.length} docs kept`); },
        onBytes: (n) => { input.bytes += n; },
      })) {
        st.read.seconds += performance.now() - t;
        batch.push(docInput(doc));
        batchChars += doc.text.length;
        if (batch.length >= 256 || batchChars >= 1 << 20) submit();
        while (pending.length >= inFlight) await take();
        t = performance.now();
      }
      submit();
      while (pending.length) await take();
      st.read.seconds += performance.now() - t;
      input.records += st.read.in - readIn;
      bySource[src.name].records = st.read.in - readIn;
      bySource[src.name].documents = st.read.kept - readKept;
      bar.finish(`${st.read.in - readIn} records, ${docs.offset.length} documents kept so far`);
    }
  } finally {
    await pool?.close();
    rmSync(join(dir, 'tokenizer.tmp'), { recursive: true, force: true });
  }
  if (!docs.offset.length) {
    const why: Record<string, number> = { ...Object.fromEntries(Object.entries(st.read.dropped).map(([k, v]) => [`read:${k}`, v])) };
    for (const s of Object.values(bySource)) for (const [k, v] of Object.entries(s.dropped)) bump(why, k, v);
    const list = Object.entries(sortedCounts(why)).map(([k, v]) => `${k} ${v}`).join(', ');
    throw new KolmError(`no document survived filtering (dropped: ${list || 'nothing read'}); loosen the config`);
  }

  // Pass 2: mixing.
  let t = performance.now();
  const plan = planMix(available, cfg.mix);
  const entries: Record<Split, number[]> = { train: [], validation: [] };
  for (let i = 0; i < docs.offset.length; i++) {
    st.mix.in++;
    const g = plan.groupOf[LANGS[docs.lang[i]]];
    if (g < 0) { st.mix.drop('no-target'); continue; }
    const rate = plan.groups[g].rate * weights[docs.source[i]];
    const split: Split = docs.validation[i] ? 'validation' : 'train';
    let copies = copiesFor(rate, seed, i);
    if (split === 'validation') copies = Math.min(copies, 1);
    if (!copies) { st.mix.drop('down-sampled'); continue; }
    st.mix.kept++;
    st.mix.change(split === 'train' ? 'train-documents' : 'validation-documents');
    st.mix.change('repeats', copies - 1);
    for (let c = 0; c < copies; c++) entries[split].push(i);
  }
  st.mix.seconds = performance.now() - t;

  // Pass 2: packing.
  t = performance.now();
  const summaries: Record<Split, SplitSummary> = { train: emptySummary(), validation: emptySummary() };
  const shards = [];
  const maxTokens = cfg.shards.maxTokens;
  for (const split of ['train', 'validation'] as Split[]) {
    const order = Uint32Array.from(entries[split]);
    shuffleInPlace(order, rng(hash2(seed, split === 'train' ? 1 : 2)));
    const seen = new Map<number, number>();
    const writer = new ShardWriter(dir, split, dtype, maxTokens, eosId);
    const sum = summaries[split];
    const bar = new Progress(`pack ${split}`, order.length, 'docs', opts.progress ?? false);
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      const copy = seen.get(i) ?? 0;
      seen.set(i, copy + 1);
      const lang = LANGS[docs.lang[i]];
      st.pack.in++;
      let ids: ArrayLike<number> = docs.length[i] ? spool.read(docs.offset[i], docs.length[i]) : [];
      let fim = false;
      if (fimIds && cfg.fim.langs.includes(lang)) {
        const fimRandom = new Rng(hash2(seed ^ 0x0f1f2f3f, hash2(i, copy)));
        if (fimRandom.next() < cfg.fim.rate) {
          const spm = fimRandom.next() < cfg.fim.spmRate;
          ids = fimTransform(tok.decode(ids), tok, fimIds, spm, fimRandom);
          fim = true;
          st.pack.change(spm ? 'fim-spm' : 'fim-psm');
        }
      }
      writer.add(ids, docs.lang[i], docs.source[i], fim);
      st.pack.kept++;
      const n = ids.length + 1;
      sum.tokens += n;
      sum.documents++;
      if (fim) sum.fimDocuments++;
      bump(sum.tokensByLang, lang, n);
      bump(sum.documentsByLang, lang);
      bump(sum.tokensBySource, sourceNames[docs.source[i]], n);
      if ((k & 1023) === 1023) bar.tick(1024);
    }
    shards.push(...writer.finish());
    bar.tick(order.length & 1023);
    bar.finish(`${sum.tokens} tokens in ${writer.shards.length} shard(s)`);
  }
  st.pack.seconds = performance.now() - t;
  spool.close();
  rmSync(join(dir, 'spool.tmp'));

  const index: ShardIndex = {
    format: INDEX_FORMAT, version: 1, dtype, vocabSize: tok.vocabSize, eosId, tokenizerHash: tok.hash, seed,
    langs: [...LANGS], sources: sourceNames, splits: summaries, shards,
  };
  for (const s of Object.values(st)) s.seconds /= 1000;
  const seconds = (performance.now() - started) / 1000;
  const train = summaries.train.tokens || 1;
  const stats: BuildStats = {
    seed,
    workers: opts.workers ?? 0,
    config: cfg,
    tokenizer: { hash: tok.hash, vocabSize: tok.vocabSize },
    input,
    stages: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v.toJSON()])),
    badInput,
    bySource: Object.fromEntries(Object.entries(bySource).map(([k, v]) => [k, { ...v, dropped: sortedCounts(v.dropped) }])),
    filtered,
    mix: {
      totalTokens: Math.round(plan.totalTokens),
      groups: plan.groups.map((g) => {
        const tokens = g.name.split('+').reduce((n, l) => n + (summaries.train.tokensByLang[l] ?? 0), 0);
        return { ...g, available: Math.round(g.available), rate: round(g.rate, 4), tokens, share: round(tokens / train, 4) };
      }),
    },
    output: summaries,
    seconds: round(seconds, 2),
    mbPerSecond: round(input.bytes / 1e6 / seconds, 2),
  };
  await writeFileAtomic(join(dir, INDEX_FILE), JSON.stringify(index) + '\n');
  await writeFileAtomic(join(dir, 'stats.json'), JSON.stringify(stats, null, 1) + '\n');
  await writeFileAtomic(join(dir, 'summary.md'), renderSummary(stats, index));
  return { index, stats };
}
