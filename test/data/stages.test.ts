import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeText } from '../../src/data/normalize.js';
import { identifyLanguage } from '../../src/text/language.js';
import { QualityFilter, defaultQuality } from '../../src/data/quality.js';
import { PiiScrubber, luhnValid } from '../../src/data/pii.js';
import { SafetyFilter } from '../../src/data/safety.js';

test('normalize: NFC composes decomposed Hangul and strips controls, markup and accelerators', () => {
  const nfd = '한국어 텍스트'.normalize('NFD');
  assert.notEqual(nfd, '한국어 텍스트');
  assert.equal(normalizeText(nfd, false), '한국어 텍스트');
  assert.equal(normalizeText('a\u200bb\u0000c\ufeff\r\nnext\u00a0line  \n\n\n\nend', false), 'abc\nnext line\n\nend');
  assert.equal(normalizeText('<p>Press <b>Save</b> &amp; close&#33;</p> 열기(_O) 파일(&F)', false), 'Press Save & close! 열기 파일');
  assert.equal(normalizeText('_\bH_\bi there', false), 'Hi there');
  assert.equal(normalizeText('   ', false), '');
});

test('normalize: code keeps indentation, tags and entities', () => {
  const code = '\n\ndef f(x):\n    return x < 1 and "<b>&amp;</b>"   \n';
  assert.equal(normalizeText(code, true), 'def f(x):\n    return x < 1 and "<b>&amp;</b>"');
});

test('langid: Korean, English, code and other; mixed text gets the dominant script', () => {
  assert.equal(identifyLanguage('오늘은 날씨가 좋아서 공원에 산책을 갔다. 사람들이 많았다.'), 'ko');
  assert.equal(identifyLanguage('The quick brown fox jumps over the lazy dog near the river bank.'), 'en');
  assert.equal(identifyLanguage('tre 라이브러리 기반에 대략적인 grep 유틸리티입니다. 이 패키지는 TRE 정규표현식 매칭 라이브러리 기반입니다.'), 'ko');
  assert.equal(identifyLanguage('Click Save to keep the changes you made to the document, or Cancel. 저장'), 'en');
  assert.equal(identifyLanguage('東京は日本の首都であり、多くの人々が住んでいます。'), 'other');
  assert.equal(identifyLanguage('12345 67890 !!! ---'), 'other');
  const go = 'package main\n\nimport "fmt"\n\nfunc main() {\n\tx := 1\n\tfmt.Println(x)\n}\n';
  assert.equal(identifyLanguage(go), 'code');
  assert.equal(identifyLanguage('short', undefined, { path: 'lib/x.py' }), 'code');
});

test('quality: length, repetition, symbols and boilerplate', () => {
  const q = new QualityFilter();
  const prose = 'The committee met on Tuesday to discuss the budget for next year and agreed to fund the new library, ' +
    'the repairs to the bridge over the river, and a small grant for the music school in the old town hall.';
  assert.equal(q.check(prose, 'en'), undefined);
  assert.equal(q.check('Too short to be a document.', 'en'), 'too-short');
  assert.equal(q.check(Array(30).fill('buy cheap pills now').join(' '), 'en'), 'top-2gram');
  assert.equal(q.check(Array(12).fill('Same line again and again here').join('\n'), 'en'), 'dup-lines');
  assert.equal(q.check(prose + ' ' + Array(10).fill('#tag #more').join(' '), 'en'), 'symbol-ratio');
  const cleaned = q.stripBoilerplate(`${prose}\nAll rights reserved.\nSecond line.\n무단 전재 및 재배포 금지\nThird line.`);
  assert.deepEqual(cleaned, { text: `${prose}\nSecond line.\nThird line.`, removed: 2 });
  assert.equal(q.stripBoilerplate('Click here to subscribe\nAccept cookies to continue\nok'), 'boilerplate');
  const minified = 'var a=' + 'x'.repeat(defaultQuality.maxLineLength + 10) + ';\n'.repeat(3);
  assert.equal(q.check(minified, 'code'), 'long-line');
  assert.equal(q.check('def f(x):\n    return x + 1\n'.repeat(10), 'code'), undefined);
});

test('pii: Korean phone formats, resident registration numbers, cards, e-mail and IPs become typed placeholders', () => {
  const p = new PiiScrubber();
  const counts: Record<string, number> = {};
  const text = '연락처 010-1234-5678, 010 1234 5678, 01012345678, 사무실 02-312-4567, 031-123-4567, 해외 +82 10-9876-5432, ' +
    '(02) 312-4567. 주민등록번호 900101-1234567. 카드 4111 1111 1111 1111, 4111111111111111. ' +
    '메일 hong.gildong@example.com. 서버 8.8.8.8, 내부 192.168.0.10, 127.0.0.1.';
  const out = p.scrub(text, counts);
  assert.equal(out, '연락처 [PHONE], [PHONE], [PHONE], 사무실 [PHONE], [PHONE], 해외 [PHONE], [PHONE]. 주민등록번호 [RRN]. ' +
    '카드 [CARD], [CARD]. 메일 [EMAIL]. 서버 [IP], 내부 192.168.0.10, 127.0.0.1.');
  assert.deepEqual(counts, { phone: 7, rrn: 1, card: 2, email: 1, ip: 1 });
});

test('pii: numbers that are not personal data are left alone', () => {
  const p = new PiiScrubber();
  const text = 'Version 1.2.3.4.5, date 2024-01-15, 4111 1111 1111 1112 (fails Luhn), id 1234567890123456, ' +
    'pi 3.14159265, 991332-1234567 (month 13), port 8080, 2,500,000원.';
  const counts: Record<string, number> = {};
  assert.equal(p.scrub(text, counts), text);
  assert.deepEqual(counts, {});
  assert.equal(luhnValid('4111111111111111'), true);
  assert.equal(luhnValid('4111111111111112'), false);
});

test('safety: documents dominated by profanity are dropped; ordinary text with look-alikes is kept', () => {
  const s = new SafetyFilter();
  assert.equal(s.check('개새끼 시발 병신 같은 소리 하지 마라 개새끼야 시발 진짜 병신이네'), 'profanity');
  assert.equal(s.check('what the fuck is this shit, you stupid asshole, fuck off and die you bitch'), 'profanity');
  // One swear word in a long text does not dominate it; whole-word matching keeps "class", "Scunthorpe", "Script-Fu".
  const long = 'The class assessment in Scunthorpe used Script-Fu and the analysis passed. '.repeat(20) + 'damn';
  assert.equal(s.check(long), undefined);
  assert.equal(s.score('a class of bass players assessed').hits, 0);
  assert.equal(s.score('ball gag and 2 girls 1 cup').hits, 2);
  assert.equal(s.score('그는 개새끼야 라고 말했다').hits, 1);
});
