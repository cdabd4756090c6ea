/**
 * Korean particles (조사) whose form depends on the sound before them: 을/를, 이/가, 은/는, 과/와 take the first form
 * after a final consonant (사과를, 책을). Used where kolm fills templates with words it did not write itself.
 */
import { syllableHasFinalConsonant } from './hangul.js';

/** Digits read in Sino-Korean that end in a consonant: 영 일 삼 육 칠 팔 (2 이, 4 사, 5 오, 9 구 do not). */
const DIGITS_WITH_FINAL_CONSONANT = '013678';

/**
 * Whether a word, as read aloud, ends in a consonant: its last syllable's 받침, or the Sino-Korean reading of a final
 * digit. Latin letters and other symbols count as vowel endings (the common reading of most loanwords).
 */
export function endsWithFinalConsonant(word: string): boolean {
  const last = word.trim().slice(-1);
  if (/[0-9]/.test(last)) return DIGITS_WITH_FINAL_CONSONANT.includes(last);
  return syllableHasFinalConsonant(last.charCodeAt(0));
}

/** Attach the right particle: josa('사과', '을', '를') → '사과를'. */
export function josa(word: string, withFinal: string, withoutFinal: string): string {
  return word + (endsWithFinalConsonant(word) ? withFinal : withoutFinal);
}

/** The forms a template writes as `을(를)` and friends: [after a consonant, after a vowel]. */
const PARTICLE_PAIRS: Record<string, [string, string]> = {
  '을(를)': ['을', '를'],
  '이(가)': ['이', '가'],
  '은(는)': ['은', '는'],
  '과(와)': ['과', '와'],
};

/** Replace `X을(를)`, `X이(가)`, `X은(는)`, `X과(와)` written after a filled slot with the correct particle. */
export function fixParticles(text: string): string {
  return text.replace(/([가-힣A-Za-z0-9]+)(을\(를\)|이\(가\)|은\(는\)|과\(와\))/g, (_, word: string, pair: string) => {
    const [withFinal, withoutFinal] = PARTICLE_PAIRS[pair]!;
    return josa(word, withFinal, withoutFinal);
  });
}
