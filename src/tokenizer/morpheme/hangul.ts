/** Hangul syllable arithmetic (Unicode §3.12), used to move between syllables and the jamo hunspell-ko works in. */

const SYLLABLE_BASE = 0xac00;
const SYLLABLE_LAST = 0xd7a3;

export function isHangulSyllable(code: number): boolean {
  return code >= SYLLABLE_BASE && code <= SYLLABLE_LAST;
}

/** Any Hangul letter: syllables, conjoining jamo and compatibility jamo. */
export function isHangul(code: number): boolean {
  return (
    isHangulSyllable(code) ||
    (code >= 0x1100 && code <= 0x11ff) ||
    (code >= 0x3130 && code <= 0x318f) ||
    (code >= 0xa960 && code <= 0xa97f) ||
    (code >= 0xd7b0 && code <= 0xd7ff)
  );
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
    const t = s % 28;
    jamo += String.fromCharCode(0x1100 + Math.floor(s / 588), 0x1161 + Math.floor((s % 588) / 28));
    if (t) jamo += String.fromCharCode(0x11a7 + t);
  }
  starts.push(jamo.length);
  return { jamo, starts };
}
