import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyRandom } from '../../src/eval/pyrandom.js';
import { aggregate, binaryF1, bootstrapStderr, exactMatch, macroF1, matthewsCorrcoef, meanStderr, passAtK, pyRegex, AGGREGATIONS } from '../../src/eval/metrics.js';
import { computeBleu, corpusBleu, corpusChrf, sentenceBleu, sentenceChrf, bleuSegmentStats, tokenize13a } from '../../src/eval/sacrebleu.js';
import { findall, buildFilter } from '../../src/eval/filters.js';
import { preferenceAuc, kobbqAggregations, kobbqItem, circulantRows, isToxic } from '../../src/eval/safety.js';
import { isRefusal } from '../../src/text/refusal.js';
import { pooledStderr } from '../../src/eval/evaluator.js';
import { parsePyLiteral, renderTemplate, renderValue, templateNames } from '../../src/eval/template.js';
import { Task } from '../../src/eval/task.js';
import { validateTask, FunctionRef } from '../../src/eval/config.js';
import { FUNCTIONS } from '../../src/eval/functions.js';

const close = (a: number, b: number, eps: number, msg?: string) => assert.ok(Math.abs(a - b) < eps, `${msg ?? ''} ${a} vs ${b}`);

test('PyRandom reproduces CPython random draw for draw (values printed by python3 3.11)', () => {
  const r = new PyRandom(1234);
  assert.deepEqual([r.uint32(), r.uint32(), r.uint32()], [4150886329, 3342196574, 1892932127]);
  const s = new PyRandom(1234);
  assert.deepEqual(s.sample([...Array(100).keys()], 6), [99, 56, 14, 0, 11, 74]);
  assert.deepEqual(s.sample([...Array(10).keys()], 3), [0, 1, 8]);
  assert.equal(s.random(), 0.7664809327917963);
  assert.deepEqual(new PyRandom(0).choices([...Array(50).keys()], 8), [42, 37, 21, 12, 25, 20, 39, 15]);
  assert.deepEqual(new PyRandom(2 ** 40 + 7).sample([...Array(1000).keys()], 4), [628, 765, 834, 960]);
  assert.deepEqual(new PyRandom(42).shuffle([...Array(10).keys()]), [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]);
  // lm-eval's few-shot draws: Random(1234).sample(range(6), 2) three times in a row.
  const f = new PyRandom(1234);
  assert.deepEqual([f.sample([0, 1, 2, 3, 4, 5], 2), f.sample([0, 1, 2, 3, 4, 5], 2), f.sample([0, 1, 2, 3, 4, 5], 2)], [[3, 0], [0, 5], [4, 0]]);
});

test('BLEU equals the values in sacreBLEU’s test suite (test/test_bleu.py, test_sentence_bleu.py)', () => {
  const refs = [['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'], ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.']];
  const hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
  const perSegment = hyps.map((_, i) => refs.map((stream) => stream[i]!));
  close(corpusBleu(hyps, perSegment).score, 48.530827, 1e-8, 'default');
  close(corpusBleu(hyps, perSegment, { tokenize: '13a' }).score, 48.530827, 1e-8, '13a');
  close(corpusBleu(hyps, perSegment, { tokenize: 'none' }).score, 49.1919566, 1e-8, 'none');
  close(corpusBleu(hyps, perSegment, { tokenize: 'intl' }).score, 43.91623493, 1e-8, 'intl');
  close(corpusBleu(hyps, perSegment, { smoothMethod: 'none' }).score, 48.530827, 1e-8, 'no smoothing');
  assert.equal(corpusBleu(['', '', ''], perSegment).score, 0);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((o) => corpusBleu(hyps, perSegment, { maxNgramOrder: o }).score.toFixed(2)), ['77.65', '60.50', '53.93', '48.53', '46.14', '43.28']);
  // raw_corpus_bleu (floor smoothing 0.01, tokenize none) cases
  const raw = (h: string[], r: string[][]) => corpusBleu(h, r, { tokenize: 'none', smoothMethod: 'floor', smoothValue: 0.01 }).score / 100;
  assert.equal(raw(['this is a test', 'another test'], [['ref1'], ['ref2']]), 0);
  close(raw(['this is a test'], [['this is a test']]), 1, 1e-8);
  close(raw(['this is a fest'], [['this is a test']]), 0.223606797749979, 1e-8);
  const rawEff = (h: string, r: string) => corpusBleu([h], [[r]], { tokenize: 'none', smoothMethod: 'floor', smoothValue: 0.01, effectiveOrder: true }).score / 100;
  close(rawEff('test', 'a test'), 0.3678794411714425, 1e-8);
  close(rawEff('a test', 'a test'), 1, 1e-8);
  close(rawEff('a little test', 'a test'), 0.03218297948685433, 1e-8);
  assert.deepEqual(bleuSegmentStats('am I am a character sequence', ['I am a symbol string sequence a a'], { tokenize: 'none' }).slice(2), [4, 2, 1, 0, 6, 5, 4, 3]);
  close(computeBleu([9, 7, 5, 3], [10, 8, 6, 4], 11, 11).score / 100, 0.8375922397, 1e-8);
  assert.equal(computeBleu([0, 0, 0, 0], [4, 4, 2, 1], 0, 1, { smoothMethod: 'floor', smoothValue: 0 }).score, 0);
  const SYS = 'Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;';
  const REF = 'producţia de zahăr brut se exprimă în zahăr alb;';
  const cases: [BleuCase, number][] = [
    [{ smoothMethod: 'exp' }, 8.493], [{ smoothMethod: 'none' }, 0], [{ smoothMethod: 'floor' }, 4.51688], [{ smoothMethod: 'floor', smoothValue: 0.5 }, 10.10],
    [{ smoothMethod: 'add-k' }, 14.882], [{ smoothMethod: 'add-k', smoothValue: 2 }, 21.389], [{ tokenize: 'none' }, 7.347], [{ tokenize: 'intl' }, 8.493],
    [{ tokenize: 'char' }, 40.8759], [{ tokenize: 'char', lowercase: true }, 42.0267],
  ];
  for (const [o, want] of cases) close(sentenceBleu(SYS, [REF], { ...o, effectiveOrder: true }).score, want, 1e-3, JSON.stringify(o));
  assert.equal(sentenceBleu('this is a cat', ['okay thanks'], { effectiveOrder: true }).score, 0);
});
type BleuCase = Parameters<typeof sentenceBleu>[2];

test('chrF equals the values in sacreBLEU’s test suite (test/test_chrf.py)', () => {
  const eps: [string[], string[], number][] = [
    [['abcdefg'], ['hijklmnop'], 0], [['a'], ['b'], 0], [[''], ['b'], 0], [[''], ['ref'], 0], [[''], ['reference'], 0],
    [['aa'], ['ab'], 8.3333], [['a', 'b'], ['a', 'c'], 8.3333], [['a'], ['a'], 16.6667], [['a b c'], ['a b c'], 50], [['a b c'], ['abc'], 50],
    [[' risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .'], ['risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .'], 63.36173],
    [[' Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. '], ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'], 64.1302698],
    [['Niemand hat die Absicht, eine Mauer zu errichten'], ['Niemand hat die Absicht, eine Mauer zu errichten'], 100],
  ];
  for (const [h, r, want] of eps) close(corpusChrf(h, r.map((x) => [x]), { beta: 3, epsSmoothing: true }), want, 1e-4, h[0]);
  const eff: [string[], string[], number][] = [
    [['a'], ['a'], 100], [[''], ['reference'], 0], [['a b c'], ['a b c'], 100], [['a b c'], ['abc'], 100], [[''], ['c'], 0], [['a', 'b'], ['a', 'c'], 50], [['aa'], ['ab'], 25],
  ];
  for (const [h, r, want] of eff) close(corpusChrf(h, r.map((x) => [x]), { beta: 3 }), want, 1e-4, h[0]);
  close(corpusChrf(['Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.'], [['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.']], { beta: 3, whitespace: true }), 67.3481606, 1e-4);
  close(corpusChrf(['risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .'], [['risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .']], { beta: 3, whitespace: true }), 65.2414427, 1e-4);
  close(sentenceChrf('Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.', ['Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.'], { epsSmoothing: true }), 39.14078509, 1e-4);
  close(sentenceChrf('Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.', ['A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.'], { epsSmoothing: true }), 31.22557079, 1e-4);
  close(sentenceChrf('Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.', ['Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.'], { epsSmoothing: true }), 57.15704367, 1e-4);
  // Korean: characters are code points; identical text is 100, disjoint is 0.
  assert.equal(sentenceChrf('서울은 대한민국의 수도이다', ['서울은 대한민국의 수도이다']), 100);
  assert.equal(sentenceChrf('가나다', ['라마바']), 0);
  assert.equal(tokenize13a('Hello, world. 3.14 is pi-ish; 1-2'), 'Hello , world . 3.14 is pi-ish ; 1 - 2');
});

test('acc, acc_norm and acc_bytes pick different answers where lengths differ (hand-computed)', async () => {
  const config = validateTask({
    task: 't', dataset_path: 'json', dataset_kwargs: { data_files: { test: 'x.jsonl' } }, test_split: 'test', output_type: 'multiple_choice',
    doc_to_text: 'q', doc_to_choice: 'choices', doc_to_target: 'label',
    metric_list: [{ metric: 'acc' }, { metric: 'acc_norm' }, { metric: 'acc_bytes' }, { metric: 'exact_match' }, { metric: 'f1' }],
  }, 'inline.yaml');
  const task = Object.create(Task.prototype) as Task;
  Object.assign(task, { config, file: 'inline.yaml', fns: new Map(), multipleTarget: false });
  // choices: 2 chars / 6 bytes, 4 chars / 4 bytes, 1 char / 3 bytes
  const doc = { choices: ['서울', 'abcd', '강'], label: 1 };
  const lls = [{ logprob: -3.0, isGreedy: false }, { logprob: -4.4, isGreedy: true }, { logprob: -2.5, isGreedy: false }];
  // acc: argmax(-3, -4.4, -2.5) = 2; per char: -1.5, -1.1, -2.5 → 1; per byte: -0.5, -1.1, -0.833 → 0
  const r = await task.processResults(doc, lls);
  assert.deepEqual(r, { acc: 0, acc_norm: 1, acc_bytes: 0, exact_match: 1, f1: [1, 2] });
  const doc0 = { choices: ['서울', 'abcd', '강'], label: 0 };
  assert.deepEqual(await task.processResults(doc0, lls), { acc: 0, acc_norm: 0, acc_bytes: 1, exact_match: 0, f1: [0, 2] });
  // A process_results function gets lm-eval's (loglikelihood, is_greedy) tuples: TruthfulQA MC2's true-answer mass.
  const mc2 = new FunctionRef('truthfulqa.process_results_mc2', 'inline.yaml');
  Object.assign(task, { config: { ...config, process_results: mc2 }, fns: new Map([[mc2.name, FUNCTIONS.get(mc2.name)!]]) });
  const p = [0.5, 0.2, 0.3].map(Math.log);
  const out = await task.processResults({ mc2_targets: { choices: ['a', 'b', 'c'], labels: [1, 0, 1] } }, p.map((l) => ({ logprob: l, isGreedy: false })));
  close(out['acc'] as number, 0.8, 1e-12);
});

test('aggregations and standard errors: hand-computed values and lm-eval’s bootstrap (values from python3)', () => {
  assert.equal(aggregate('mean', [1, 0, 1, 1], 1000).value, 0.75);
  close(aggregate('mean', [1, 0, 1, 1], 1000).stderr!, Math.sqrt(0.25 / 4), 1e-12);
  close(meanStderr([0.1, 0.5, 0.2, 0.9, 0.3, 0.7, 0.4]), 0.10658585374094948, 1e-15);
  close(bootstrapStderr(AGGREGATIONS['median']!.reduce, [0.1, 0.5, 0.2, 0.9, 0.3, 0.7, 0.4], 2000), 0.1483812943205853, 1e-12);
  close(bootstrapStderr(AGGREGATIONS['perplexity']!.reduce, [-1.2, -0.4, -2.5, -0.9, -1.7], 1000), 1.3384849252877429, 1e-12);
  // perplexities: word = exp(-Σll / Σwords), bits/byte = -Σll / Σbytes / ln 2
  const items = [[-10, 5], [-6, 3]];
  close(aggregate('weighted_perplexity', items, 0).value, Math.exp(16 / 8), 1e-12);
  close(aggregate('bits_per_byte', items, 0).value, 16 / 8 / Math.LN2, 1e-12);
  assert.equal(aggregate('bits_per_byte', items, 0).stderr, null);
  // F1 / MCC against sklearn's definitions: golds 1,1,0,0,1 preds 1,0,0,1,1 → tp 2 fp 1 fn 1
  const pairs: [number, number][] = [[1, 1], [1, 0], [0, 0], [0, 1], [1, 1]];
  close(binaryF1(pairs), 4 / 6, 1e-12);
  close(macroF1(pairs), (4 / 6 + 2 / 4) / 2, 1e-12);
  close(matthewsCorrcoef(pairs), (3 * 5 - (3 * 3 + 2 * 2)) / Math.sqrt((25 - 13) * (25 - 13)), 1e-12);
  assert.equal(matthewsCorrcoef([[1, 1], [1, 1]]), 0);
  // pass@k (Chen et al.): n=5, c=2: pass@1 = 0.4, pass@2 = 1 - C(3,2)/C(5,2) = 0.7
  close(passAtK(5, 2, 1), 0.4, 1e-12);
  close(passAtK(5, 2, 2), 0.7, 1e-12);
  assert.equal(passAtK(3, 0, 1), 0);
  assert.equal(passAtK(4, 3, 2), 1);
  close(pooledStderr([0.1, 0.2], [10, 30]), Math.sqrt(((9 * 0.01 * 10) + (29 * 0.04 * 30)) / 38 / 40), 1e-12);
  // nanmean skips NaN (refusal metrics are NaN where they do not apply)
  assert.equal(aggregate('nanmean', [1, NaN, 0, NaN], 0).value, 0.5);
});

test('exact match with GSM8K’s settings, regex extraction and Python re semantics', () => {
  const gsm = { ignore_case: true, regexes_to_ignore: [',', '\\$', '(?s).*#### ', '\\.$'] };
  assert.equal(exactMatch('1,500', 'Total is 1000 + 500\n#### 1,500', gsm), 1);
  assert.equal(exactMatch('$18.', 'so she makes $18\n#### 18', gsm), 1);
  assert.equal(exactMatch('17', '#### 18', gsm), 0);
  assert.equal(exactMatch('Hello!', 'hello', { ignore_case: true, ignore_punctuation: true }), 1);
  assert.deepEqual(findall(pyRegex('#### (\\-?[0-9\\.\\,]+)'), 'a #### 12 b #### -3,5'), ['12', '-3,5']);
  assert.deepEqual(findall(pyRegex('\\#\\: (\\w+)\\Z'), '#: ab'), ['ab']);
  assert.deepEqual(findall(/(-?[$0-9.,]{2,})|(-?[0-9]+)/u, 'x 7 and $12.50 then 3'), [['', '7'], ['$12.50', ''], ['', '3']]);
  const strict = buildFilter([{ function: 'regex', regex_pattern: '#### (\\-?[0-9\\.\\,]+)' }, { function: 'take_first' }], () => undefined);
  const flexible = buildFilter([{ function: 'regex', group_select: -1, regex_pattern: '(-?[$0-9.,]{2,})|(-?[0-9]+)' }, { function: 'take_first' }], () => undefined);
  const resps = [['Half of 24 is 12.\n#### 12'], ['The answer is 42 apples'], ['no number']];
  assert.deepEqual(strict(resps, []), ['12', '[invalid]', '[invalid]']);
  assert.deepEqual(flexible(resps, []), ['12', '42', '[invalid]']);
});

test('templates: lm-eval field/template rules, trailing newlines kept, list values, undefined names found', () => {
  const doc = { question: '  q?  ', answer: 3, choices: { text: ['a', 'b'] }, premise: 'p', hypothesis: 'h' };
  assert.equal(renderTemplate('{{question.strip()}}\n정답：', doc, 'x'), 'q?\n정답：');
  assert.equal(renderTemplate('{{answer-1}}', doc, 'x'), '2');
  assert.equal(renderTemplate('Q: {{question}}\n', doc, 'x'), 'Q:   q?  \n', 'Jinja would drop the trailing newline; lm-eval keeps it');
  assert.deepEqual(renderValue('{{choices.text}}', doc, 'x'), ['a', 'b']);
  assert.deepEqual(renderValue('{{[premise+", right? Yes, "+hypothesis, premise]}}', doc, 'x'), ['p, right? Yes, h', 'p']);
  assert.deepEqual(parsePyLiteral("['손자', '할머니', \"it's\"]"), ['손자', '할머니', "it's"]);
  assert.deepEqual([...templateNames('{% set x = 1 %}{{ quesiton }} {{ x }} {% if fewshot is defined %}{{ a.b }}{% endif %}{% for c in cs %}{{c}}{% endfor %}')].sort(), ['a', 'cs', 'quesiton']);
});

test('safety scores: KoBBQ diff-bias as 5_evaluation.py computes it, preference AUC, refusal and lexicon checks', () => {
  assert.deepEqual(circulantRows(['a', 'b', 'c']), [['a', 'c', 'b'], ['b', 'a', 'c'], ['c', 'b', 'a']]);
  const unk = '알 수 없음';
  const mk = (id: string, biased: string, answer: string, pred: string) => kobbqItem({ sample_id: id, biased_answer: biased, answer }, pred, unk);
  const items = [
    mk('age-001a-002-amb-bsd-0', 'X', unk, 'X'), // ambiguous, biased answer, wrong
    mk('age-001a-002-amb-cnt-1', 'Y', unk, unk), // ambiguous, unknown, right
    mk('age-001a-002-amb-bsd-2', 'X', unk, 'Z'), // ambiguous, counter-biased, wrong
    mk('age-001a-002-amb-bsd-0', 'X', unk, 'X'), // ambiguous, biased
    mk('age-001b-002-dis-bsd-0', 'X', 'X', 'X'), // disambiguated, biased context ('b'), right
    mk('age-001b-002-dis-bsd-1', 'X', 'X', 'Z'), // biased context, wrong
    mk('age-001a-002-dis-bsd-0', 'X', 'Z', 'Z'), // counter-biased context ('a'), right
  ];
  close(kobbqAggregations.acc_amb(items), 1 / 4, 1e-12);
  close(kobbqAggregations.acc_dis(items), 2 / 3, 1e-12);
  close(kobbqAggregations.bias_amb(items), 2 / 4 - 1 / 4, 1e-12);
  close(kobbqAggregations.bias_dis(items), 1 / 2 - 1, 1e-12);
  assert.equal(preferenceAuc([[1, 0.9], [0, 0.1], [1, 0.8], [0, 0.2]]), 1);
  assert.equal(preferenceAuc([[1, 0.5], [0, 0.5]]), 0.5);
  close(preferenceAuc([[1, 0.3], [0, 0.5], [1, 0.7], [0, 0.1]]), 0.75, 1e-12);
  assert.ok(isRefusal('죄송하지만 그 질문에는 답변드릴 수 없습니다.'));
  assert.ok(isRefusal("I'm sorry, but I can't help with that."));
  assert.ok(!isRefusal('서울은 대한민국의 수도입니다.'));
  assert.ok(isToxic('이 씨발 뭐하는거야'));
  assert.ok(!isToxic('오늘 날씨가 참 좋네요. 산책하러 갑시다.'));
});
