/**
 * A Korean morpheme segmenter derived from hunspell-ko: a word (어절) is cut once, between its stem and the chain of
 * particles (조사) / endings (어미) after it, found by undoing hunspell's suffix rules (including twofold ones, where a
 * particle follows an ending) until a dictionary lemma carrying the rule's flag is reached. Used only at training time:
 * pairs are counted within pieces, so no merge is learned across a cut.
 *
 * Choices, each checked against the hand-labelled lists in test/fixtures/tokenizer/:
 * - Cuts are on syllable boundaries (a byte-level token cannot split a syllable usefully). When an ending fuses into the
 *   stem's last syllable (했, 갔, 셨), the fused syllable goes with the ending; a word that is nothing but such a
 *   syllable and its ending (갔다, 했다) stays whole.
 * - Of several analyses the one with the longest stem wins (fewest, most lexical cuts).
 * - Derived verbs/adjectives (공부하다, 자연스럽다) are cut after the noun, so 하다/되다/… with their endings are shared
 *   pieces; those verbs on their own (합니다, 되어) therefore stay whole too.
 * - Words hunspell does not know (loanwords, technical terms) still lose trailing particles when the rest is at least
 *   two syllables and the particle's phonological condition holds (리눅스|에서). Only particles proper count here, not
 *   copula endings, which would cut compounds like 배경화면 (배경화|면 "if it is 배경화").
 * The cuts must be consistent: a string that is one piece in some words (합니다 after 선택|) must not be cut when it
 * is a word by itself, or BPE learns it whole and encoding crosses the cut anyway.
 */
import { join } from 'node:path';
import { access } from 'node:fs/promises';
import { KolmError } from '../../util/errors.js';
import { decompose, isHangul, isLeadingConsonant } from '../../text/hangul.js';
import { readHunspell, type HunspellLexicon, type SuffixRule } from './hunspell.js';

/**
 * Derivational suffixes after which a noun is cut off: 공부|하다, 설치|되다, 자연|스럽다. Not 받다: as a verb of its own it
 * is too common to leave uncut.
 */
const DERIVATIONS = ['하다', '되다', '시키다', '스럽다', '롭다', '답다'].map((s) => s.normalize('NFD'));
const DA = '다'.normalize('NFD');
const LETTER = /\p{L}/u;

/** Where hunspell-ko's files may sit in a lexicon folder (ours, or Debian's /usr/share/hunspell). */
const FILE_NAMES: [string, string][] = [
  ['hunspell-ko.aff', 'hunspell-ko.dic'],
  ['ko.aff', 'ko.dic'],
  ['ko_KR.aff', 'ko_KR.dic'],
];

export class MorphemeSegmenter {
  /** Flags of rules that inflect verbs/adjectives (they strip the lemma's final 다). */
  private readonly inflectional = new Set<number>();
  /** Particles proper: rules that may follow another suffix but take none after them (unlike copula endings). */
  private readonly particles: Set<number>;

  constructor(private readonly lex: HunspellLexicon) {
    const takesMore = new Set<number>();
    for (const rules of lex.rulesByAdd.values()) {
      for (const r of rules) {
        if (r.strip.endsWith(DA)) this.inflectional.add(r.flag);
        if (r.continuation) takesMore.add(r.flag);
      }
    }
    this.particles = new Set([...lex.continuationFlags].filter((f) => !takesMore.has(f)));
  }

  /** Reads hunspell-ko's .aff/.dic from a folder, or from `path` itself when it names the .aff (with the .dic beside it). */
  static async load(dir: string): Promise<MorphemeSegmenter> {
    if (dir.endsWith('.aff')) return new MorphemeSegmenter(await readHunspell(dir, dir.slice(0, -4) + '.dic'));
    for (const [aff, dic] of FILE_NAMES) {
      const exists = await access(join(dir, aff)).then(() => true, () => false);
      if (exists) return new MorphemeSegmenter(await readHunspell(join(dir, aff), join(dir, dic)));
    }
    throw new KolmError(
      `no hunspell-ko lexicon in ${dir} (looked for ${FILE_NAMES.map(([a]) => a).join(', ')}); ` +
        'pass --lexicon DIR or --no-morpheme',
    );
  }

  /**
   * Splits a pre-token into pieces that concatenate back to it: at changes between Hangul and other letters
   * (GNU|의), and inside each Hangul word between stem and particles/endings. A leading space or symbol stays with the
   * first piece.
   */
  split(preToken: string): string[] {
    const cutsAt: number[] = [];
    let runStart = -1;
    let runHangul = false;
    let sawHangul = false;
    for (let i = 0; i <= preToken.length; i++) {
      const code = i < preToken.length ? preToken.charCodeAt(i) : -1;
      const hangul = code >= 0 && isHangul(code);
      // Surrogate halves are never letters here, so no cut can fall inside a pair.
      const letter = hangul || (code >= 0 && LETTER.test(preToken[i]!));
      if (runStart >= 0 && (!letter || hangul !== runHangul)) {
        if (runHangul) for (const cut of this.cuts(preToken.slice(runStart, i))) cutsAt.push(runStart + cut);
        if (letter) cutsAt.push(i);
        runStart = -1;
      }
      if (letter && runStart < 0) {
        runStart = i;
        runHangul = hangul;
        sawHangul ||= hangul;
      }
    }
    if (!sawHangul || cutsAt.length === 0) return [preToken];
    const pieces: string[] = [];
    let start = 0;
    for (const cut of cutsAt) {
      pieces.push(preToken.slice(start, cut));
      start = cut;
    }
    pieces.push(preToken.slice(start));
    return pieces;
  }

  /** Syllable offsets inside a run of Hangul where it is cut (empty when it stays whole). */
  cuts(word: string): number[] {
    if (word.length < 2) return [];
    const { jamo, starts } = decompose(word);
    const stemEnd = this.stemEnd(jamo, word.length);
    if (stemEnd === undefined) return [];
    // Map the jamo position down to a syllable boundary: a fused syllable goes with the ending.
    let syllable = 0;
    while (syllable < word.length && starts[syllable + 1]! <= stemEnd) syllable++;
    return syllable > 0 && syllable < word.length ? [syllable] : [];
  }

  /** Jamo offset where the stem ends, or undefined if the word stays whole. */
  private stemEnd(jamo: string, syllables: number): number | undefined {
    const own = this.lex.lemmas.get(jamo);
    if (own) return this.lemmaCut(jamo, own);
    return this.analysedStem(jamo, 0) ?? this.unknownStem(jamo, syllables, 0);
  }

  /** The longest stem over all analyses of `jamo` as lemma + suffixes, or undefined if there is none. */
  private analysedStem(jamo: string, depth: number): number | undefined {
    let best: number | undefined;
    for (let i = jamo.length - 1; i > 0 && (best === undefined || i > best); i--) {
      const found = this.analyse(jamo, i, depth);
      if (found !== undefined) best = Math.max(best ?? 0, found);
    }
    return best;
  }

  /** Undo the rules that append `jamo.slice(i)`; returns the stem end of the best analysis at this split. */
  private analyse(jamo: string, i: number, depth: number): number | undefined {
    const add = jamo.slice(i);
    let best: number | undefined;
    for (const rule of this.lex.rulesByAdd.get(add) ?? []) {
      const base = jamo.slice(0, i) + rule.strip;
      if (rule.condition && !rule.condition.test(base)) continue;
      // Single suffix: base is a lemma with this rule's flag.
      const flags = this.lex.lemmas.get(base);
      if (flags?.has(rule.flag)) best = Math.max(best ?? 0, this.derivationCut(base, i));
      if (!this.lex.continuationFlags.has(rule.flag)) continue;
      // Twofold: this rule is the outer suffix (a particle); base must be lemma + an inner suffix that allows it.
      const inner = this.innerStem(base, rule.flag, i);
      if (inner !== undefined) best = Math.max(best ?? 0, inner);
      // Stacked particles (항목+에서+부터), which hunspell-ko lists one at a time.
      if (!rule.strip && depth < 2) {
        const stacked = this.analysedStem(base, depth + 1);
        if (stacked !== undefined) best = Math.max(best ?? 0, stacked);
      }
    }
    return best;
  }

  private innerStem(form: string, outerFlag: number, limit: number): number | undefined {
    let best: number | undefined;
    for (let j = form.length - 1; j > 0; j--) {
      for (const rule of this.lex.rulesByAdd.get(form.slice(j)) ?? []) {
        if (!rule.continuation?.has(outerFlag)) continue;
        const lemma = form.slice(0, j) + rule.strip;
        if (rule.condition && !rule.condition.test(lemma)) continue;
        if (this.lex.lemmas.get(lemma)?.has(rule.flag)) best = Math.max(best ?? 0, this.derivationCut(lemma, Math.min(j, limit)));
      }
    }
    return best;
  }

  /** A dictionary word on its own: verbs are cut before 다 (or after a noun they derive from); others stay whole. */
  private lemmaCut(lemma: string, flags: ReadonlySet<number>): number | undefined {
    if (!lemma.endsWith(DA) || ![...flags].some((f) => this.inflectional.has(f))) return undefined;
    return this.derivationCut(lemma, lemma.length - DA.length);
  }

  /**
   * For a lemma derived from a noun (공부하다) or a longer root (유연하다), the cut moves back to the end of it; a bare
   * derivational verb (하다, 되다) gets no cut (0).
   */
  private derivationCut(lemma: string, stemEnd: number): number {
    for (const suffix of DERIVATIONS) {
      if (!lemma.endsWith(suffix)) continue;
      if (lemma.length === suffix.length) return 0;
      const root = lemma.slice(0, lemma.length - suffix.length);
      const flags = this.lex.lemmas.get(root);
      const noun = flags !== undefined && !(root.endsWith(DA) && [...flags].some((f) => this.inflectional.has(f)));
      if (noun || countSyllables(root) >= 2) return Math.min(root.length, stemEnd);
    }
    return stemEnd;
  }

  /**
   * A word hunspell does not know: strip the longest particle (and one more stacked before it) whose condition
   * holds, keeping at least two syllables.
   */
  private unknownStem(jamo: string, syllables: number, depth: number): number | undefined {
    if (syllables < 3) return undefined;
    for (let i = 1; i < jamo.length; i++) {
      if (!isLeadingConsonant(jamo.charCodeAt(i))) continue; // particles start a syllable
      const rules: SuffixRule[] | undefined = this.lex.rulesByAdd.get(jamo.slice(i));
      if (!rules) continue;
      const stem = jamo.slice(0, i);
      const stemSyllables = countSyllables(stem);
      if (stemSyllables < 2) break;
      if (rules.some((r) => !r.strip && this.particles.has(r.flag) && (!r.condition || r.condition.test(stem)))) {
        return (depth < 1 ? this.unknownStem(stem, stemSyllables, depth + 1) : undefined) ?? i;
      }
    }
    return undefined;
  }
}

function countSyllables(jamo: string): number {
  let n = 0;
  for (let i = 0; i < jamo.length; i++) if (isLeadingConsonant(jamo.charCodeAt(i))) n++;
  return n;
}
