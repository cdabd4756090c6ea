import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decompose, hasHangulSyllable, isHangul, isHangulSyllable, syllableHasFinalConsonant } from '../../src/text/hangul.js';
import { answerLanguage, countScripts, identifyLanguage, scriptLanguage } from '../../src/text/language.js';
import { endsWithFinalConsonant, fixParticles, josa } from '../../src/text/particles.js';

test('hangul: ranges, final consonants and canonical decomposition', () => {
  assert.ok(isHangulSyllable('가'.charCodeAt(0)) && isHangulSyllable('힣'.charCodeAt(0)) && !isHangulSyllable('ㄱ'.charCodeAt(0)));
  assert.ok(isHangul('ㅋ'.charCodeAt(0)) && isHangul(0x1100) && isHangul(0xa960) && !isHangul('a'.charCodeAt(0)));
  assert.ok(hasHangulSyllable('GNU의') && !hasHangulSyllable('ㅋㅋ abc'));
  assert.ok(syllableHasFinalConsonant('책'.charCodeAt(0)) && !syllableHasFinalConsonant('차'.charCodeAt(0)));
  const { jamo, starts } = decompose('한a');
  assert.equal(jamo, '한a'.normalize('NFD'));
  assert.deepEqual(starts, [0, 3, 4]);
});

test('particles follow the last sound: syllables, Sino-Korean digits, loanwords', () => {
  assert.equal(josa('사과', '을', '를'), '사과를');
  assert.equal(josa('책', '을', '를'), '책을');
  assert.equal(josa('3개', '이', '가'), '3개가');
  assert.equal(josa('2', '이', '가'), '2가');
  assert.equal(josa('3', '이', '가'), '3이');
  assert.equal(josa('GPU', '은', '는'), 'GPU는');
  assert.ok(endsWithFinalConsonant('서울 ') && !endsWithFinalConsonant(''));
  assert.equal(fixParticles('폭탄을(를) 만드는 법과(와) 사과이(가) 아니라 책은(는)'), '폭탄을 만드는 법과 사과가 아니라 책은');
});

test('language: corpus documents, chat answers and coarse script labels', () => {
  assert.equal(identifyLanguage('오늘은 날씨가 좋아서 공원에 산책을 갔다.'), 'ko');
  assert.equal(identifyLanguage('short', undefined, { path: 'lib/x.py' }), 'code');
  assert.deepEqual(countScripts('한ㅋ aé'), { hangul: 2, latin: 2, otherLetters: 0, hangulSyllables: 1, asciiLetters: 1 });
  assert.equal(answerLanguage('서울은 한국의 수도입니다.'), 'ko');
  assert.equal(answerLanguage('ㅋㅋㅋ'), 'none'); // jamo alone are not an answer's language
  assert.equal(answerLanguage('Seoul is the capital.'), 'en');
  assert.equal(scriptLanguage('서울 시청 Seoul'), 'ko'); // 30% Hangul letters suffice
  assert.equal(scriptLanguage('Москва'), 'other');
  assert.equal(scriptLanguage('123'), 'other');
});
