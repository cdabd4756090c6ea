/**
 * Stages 1-5 for one document, plus what stages 6 and 8 need from it (dedup fingerprint, token ids). Stateless
 * across documents, so it runs the same in the main thread or in worker threads; the stateful dedup decision
 * happens afterwards, in input order. Drops are counted here; dedup and tokenize counts by the caller.
 */
import type { DataConfig } from './config.js';
import { Deduplicator, type Fingerprint } from './dedup.js';
import { identifyLanguage, isCodePath } from '../text/language.js';
import { normalizeText } from './normalize.js';
import { PiiScrubber } from './pii.js';
import { QualityFilter } from './quality.js';
import { SafetyFilter } from './safety.js';
import { StageStats, type StageReport } from './stats.js';
import type { Doc, Lang, TextTokenizer } from './types.js';

export const PROCESS_STAGES = ['normalize', 'langid', 'quality', 'pii', 'safety', 'dedup', 'tokenize'] as const;
export type ProcessStage = (typeof PROCESS_STAGES)[number];

/** What a worker needs of a document. */
export type DocInput = Pick<Doc, 'text' | 'declaredLang'> & { code: boolean };

export type Processed =
  | { drop: string }
  | { drop?: undefined; lang: Lang; chars: number; fingerprint: Fingerprint; ids: ArrayLike<number> };

export function docInput(doc: Doc): DocInput {
  const code = doc.declaredLang === 'code' || isCodePath(doc.meta?.path) || isCodePath(doc.meta?.filename);
  return { text: doc.text, declaredLang: doc.declaredLang ?? (code ? 'code' : undefined), code };
}

export class DocProcessor {
  readonly stats = Object.fromEntries(PROCESS_STAGES.map((s) => [s, new StageStats(s)])) as Record<ProcessStage, StageStats>;
  private readonly quality: QualityFilter;
  private readonly pii: PiiScrubber;
  private readonly safety: SafetyFilter;
  private readonly dedup: Deduplicator;

  constructor(private readonly cfg: DataConfig, seed: number, private readonly tok: TextTokenizer) {
    this.quality = new QualityFilter(cfg.quality);
    this.pii = new PiiScrubber(cfg.pii);
    this.safety = new SafetyFilter(cfg.safety);
    this.dedup = new Deduplicator({ ...cfg.dedup, seed: seed + 1 });
  }

  /** Counts since the last call, per stage (then reset). */
  takeStats(): Record<ProcessStage, StageReport> {
    return Object.fromEntries(PROCESS_STAGES.map((s) => [s, this.stats[s].take()])) as Record<ProcessStage, StageReport>;
  }

  process(doc: DocInput): Processed {
    const st = this.stats;
    let t = performance.now();
    const lap = (s: StageStats) => { const now = performance.now(); s.seconds += now - t; t = now; };
    const drop = (s: StageStats, reason: string): Processed => { lap(s); s.drop(reason); return { drop: `${s.name}:${reason}` }; };

    st.normalize.in++;
    st.normalize.charsIn += doc.text.length;
    let text = normalizeText(doc.text, doc.code, this.cfg.normalize);
    if (!text) return drop(st.normalize, 'empty');
    st.normalize.kept++;
    st.normalize.charsOut += text.length;
    lap(st.normalize);

    st.langid.in++;
    const lang = doc.declaredLang ?? identifyLanguage(text, this.cfg.langid);
    st.langid.change(lang);
    st.langid.kept++;
    lap(st.langid);

    st.quality.in++;
    if (lang !== 'code') {
      const cleaned = this.quality.stripBoilerplate(text);
      if (typeof cleaned === 'string') return drop(st.quality, cleaned);
      st.quality.change('boilerplate-lines', cleaned.removed);
      text = cleaned.text;
    }
    const bad = this.quality.check(text, lang);
    if (bad) return drop(st.quality, bad);
    st.quality.kept++;
    lap(st.quality);

    st.pii.in++;
    text = this.pii.scrub(text, st.pii.changed);
    st.pii.kept++;
    lap(st.pii);

    st.safety.in++;
    const unsafe = this.safety.check(text);
    if (unsafe) return drop(st.safety, unsafe);
    st.safety.kept++;
    lap(st.safety);

    const fingerprint = this.dedup.fingerprint(text);
    lap(st.dedup);
    const ids = this.tok.encode(text);
    lap(st.tokenize);
    return { lang, chars: text.length, fingerprint, ids };
  }
}
