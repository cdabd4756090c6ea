/**
 * Hangul code points and syllable arithmetic (Unicode §3.12). Every Hangul range check in kolm goes through here:
 * language identification counts letters with it, the morpheme segmenter moves between syllables and the jamo that
 * hunspell-ko works in, and particle selection reads a syllable's final consonant.
 */

/** 가: the first precomposed syllable. A syllable is BASE + (lead × 21 + vowel) × 28 + tail. */
export const SYLLABLE_BASE = 0xac00;
/** 힣: the last precomposed syllable. */
const SYLLABLE_LAST = 0xd7a3;
const VOWELS_TIMES_TAILS = 21 * 28;
const TAILS = 28;
const LEAD_BASE = 0x1100;
const VOWEL_BASE = 0x1161;
/** Tail index t (1…27) is the conjoining jamo TAIL_BASE + t; index 0 means no final consonant. */
const TAIL_BASE = 0x11a7;

/** A precomposed syllable (가…힣). */
export function isHangulSyllable(code: number): boolean {
  return code >= SYLLABLE_BASE && code <= SYLLABLE_LAST;
}

/** Conjoining jamo (U+1100–11FF), the letters a syllable decomposes into. */
export function isConjoiningJamo(code: number): boolean {
  return code >= 0x1100 && code <= 0x11ff;
}

/** Compatibility jamo (U+3130–318F): the standalone letters people type (ㅋㅋ, ㄱ). */
export function isCompatibilityJamo(code: number): boolean {
  return code >= 0x3130 && code <= 0x318f;
}

/** A leading consonant of the modern set (ᄀ…ᄒ); in decomposed text each one starts a syllable. */
export function isLeadingConsonant(code: number): boolean {
  return code >= LEAD_BASE && code <= 0x1112;
}

/** Any Hangul letter: syllables, conjoining jamo (with the archaic extensions A and B) and compatibility jamo. */
export function isHangul(code: number): boolean {
  return (
    isHangulSyllable(code) ||
    isConjoiningJamo(code) ||
    isCompatibilityJamo(code) ||
    (code >= 0xa960 && code <= 0xa97f) ||
    (code >= 0xd7b0 && code <= 0xd7ff)
  );
}

/** Whether a text holds at least one precomposed syllable. */
export function hasHangulSyllable(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (isHangulSyllable(text.charCodeAt(i))) return true;
  return false;
}

/** Whether a precomposed syllable ends in a consonant (받침): 책 yes, 차 no. False for anything else. */
export function syllableHasFinalConsonant(code: number): boolean {
  return isHangulSyllable(code) && (code - SYLLABLE_BASE) % TAILS !== 0;
}

/**
 * The canonical decomposition (NFD) of a run of Hangul, plus `starts`: for each char of `text`, the jamo offset where
 * it begins (with a final entry for the end), so a jamo position can be mapped back to the syllable holding it.
 */
export function decompose(text: string): { jamo: string; starts: number[] } {
  let jamo = '';
  const starts: number[] = [];
  for (let i = 0; i < text.length; i++) {
    starts.push(jamo.length);
    const code = text.charCodeAt(i);
    if (!isHangulSyllable(code)) {
      jamo += text[i];
      continue;
    }
    const s = code - SYLLABLE_BASE;
    const t = s % TAILS;
    jamo += String.fromCharCode(LEAD_BASE + Math.floor(s / VOWELS_TIMES_TAILS), VOWEL_BASE + Math.floor((s % VOWELS_TIMES_TAILS) / TAILS));
    if (t) jamo += String.fromCharCode(TAIL_BASE + t);
  }
  starts.push(jamo.length);
  return { jamo, starts };
}
