import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TaskIndex, builtinTaskDir, loadWithIncludes, validateTask } from '../../src/eval/config.js';
import { Task } from '../../src/eval/task.js';
import { parseDelimited, loadSplit, readDataFile, resolveDataFiles } from '../../src/eval/datasets.js';
import { FUNCTIONS } from '../../src/eval/functions.js';
import { evaluate } from '../../src/eval/evaluator.js';
import type { Backend, LoglikelihoodRequest } from '../../src/eval/backend.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'eval');
const dataDir = join(fixtures, 'data');
let tmp: string;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'kolm-eval-tasks-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function writeTask(name: string, body: string): string {
  const p = join(tmp, name);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, body);
  return p;
}

const base = `task: bad
dataset_path: json
dataset_kwargs:
  data_files:
    test: ko_mc_test.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "{{question}}"
doc_to_choice: choices
doc_to_target: label
`;

test('every shipped task and group definition loads and validates (no data needed)', () => {
  const index = new TaskIndex([builtinTaskDir()]);
  assert.ok(index.tasks.size >= 80, `${index.tasks.size} tasks`);
  for (const name of index.tasks.keys()) assert.doesNotThrow(() => index.task(name), name);
  for (const name of index.groups.keys()) assert.doesNotThrow(() => index.group(name), name);
  for (const expected of ['kobest_boolq', 'kobest_copa', 'kobest_hellaswag', 'kobest_sentineg', 'kobest_wic', 'click_lang_grammar', 'click_cul_history',
    'kmmlu_accounting', 'haerae_history', 'kornli', 'klue_nli', 'arc_easy', 'arc_challenge', 'truthfulqa_mc1', 'truthfulqa_mc2', 'gsm8k', 'humaneval', 'mbpp',
    'translation_news_ko-en', 'translation_jhe_en-ko', 'korquad_ppl', 'news_ppl_en', 'apeach_lexicon', 'khs_lexicon', 'ko_toxicity', 'square_refusal', 'kobbq',
    'kosbi_classify', 'kosbi_preference']) assert.ok(index.tasks.has(expected), expected);
  const { tasks, groups } = index.resolve(['kmmlu', 'click']);
  assert.equal(tasks.filter((t) => t.name.startsWith('kmmlu_')).length, 45);
  assert.deepEqual(groups.map((g) => g.entry.name).sort(), ['click', 'click_cul', 'click_lang', 'kmmlu', 'kmmlu_applied_science', 'kmmlu_humss', 'kmmlu_other', 'kmmlu_stem']);
  // KMMLU's prompt ends in the fullwidth colon, exactly as lm-eval's.
  assert.ok(String(index.task('kmmlu_math').config.doc_to_text).endsWith('\n정답：'));
  assert.equal(index.task('kmmlu_math').config.dataset_name, 'Math');
});

test('bad task files get errors that name the file, the field and the value', () => {
  const cases: [string, RegExp][] = [
    [base.replace('output_type: multiple_choice', 'output_type: multiple-choice'), /bad\.yaml: field 'output_type': must be one of .* \(got "multiple-choice"\)/],
    [base.replace('dataset_path: json', 'dataset_path: skt/kobest_v1'), /field 'dataset_path': 'skt\/kobest_v1' looks like a Hugging Face hub dataset/],
    [base.replace('doc_to_target: label', 'doc_to_target: label\ndoc_to_txt: x'), /field 'doc_to_txt': unknown field \(did you mean doc_to_text/],
    [base.replace('doc_to_text: "{{question}}"', 'doc_to_text: !function kobest.no_such'), /field 'doc_to_text': unknown function .*\(got "!function kobest.no_such"\)/],
    [base.replace('test_split: test', 'test_split: dev'), /field 'test_split': split 'dev' is not in dataset_kwargs.data_files \(splits: test\)/],
    [base.replace('doc_to_choice: choices\n', ''), /field 'doc_to_choice': is required for output_type multiple_choice/],
    [base + 'num_fewshot: -1\n', /field 'num_fewshot': must be a non-negative integer \(got -1\)/],
    [base + 'metric_list:\n  - aggregation: mean\n', /field 'metric_list\[0\]\.metric': 'metric' key not provided/],
    [base + 'metric_list:\n  - metric: acc\n    aggregation: meen\n', /field 'metric_list\[0\]\.aggregation': unknown aggregation .*\(got "meen"\)/],
    [base + 'filter_list:\n  - name: x\n    filter:\n      - function: regexp\n', /field 'filter_list\[0\]\.filter\[0\]\.function': must be one of .*\(got "regexp"\)/],
    [base + 'generation_kwargs:\n  until: 5\n', /field 'generation_kwargs.until': must be a string or a list of strings \(got 5\)/],
    [base + 'doc_to_image: x\n', /field 'doc_to_image': multimodal tasks are not supported/],
    [base.replace('dataset_kwargs:\n  data_files:\n    test: ko_mc_test.jsonl\n', ''), /field 'dataset_kwargs.data_files': is required/],
    ['task: [unclosed\n', /bad\.yaml: invalid YAML at line \d+/],
  ];
  for (const [body, re] of cases) {
    const file = writeTask('bad.yaml', body);
    assert.throws(() => validateTask(loadWithIncludes(file), file), re, body);
  }
  const inc = writeTask('inc.yaml', 'include: missing_base.yaml\ntask: x\n');
  assert.throws(() => loadWithIncludes(inc), /inc\.yaml: field 'include': file not found: .*missing_base\.yaml/);
  writeTask('cyc_a.yaml', 'include: cyc_b.yaml\n');
  const cyc = writeTask('cyc_b.yaml', 'include: cyc_a.yaml\n');
  assert.throws(() => loadWithIncludes(cyc), /include cycle/);
  const index = new TaskIndex([join(fixtures, 'tasks')]);
  assert.throws(() => index.resolve(['fixture_ko_mcq']), /unknown task, group or tag 'fixture_ko_mcq'; similar: .*fixture_ko_mc/);
});

test('data problems are reported against the task file: missing files, template fields, process_docs failures', async () => {
  const missing = writeTask('missing.yaml', base.replace('ko_mc_test.jsonl', 'nope/*.jsonl'));
  const cfg = (file: string) => ({ kind: 'task' as const, name: 'bad', file, config: validateTask(loadWithIncludes(file), file) });
  await assert.rejects(Task.load(cfg(missing), dataDir), /missing\.yaml: field 'dataset_kwargs.data_files.test': no data file matches "nope\/\*\.jsonl" under the data directory .*--data-dir/);
  const typo = writeTask('typo.yaml', base.replace('"{{question}}"', '"질문: {{quesiton}}"'));
  await assert.rejects(Task.load(cfg(typo), dataDir), /typo\.yaml: field 'doc_to_text': the template uses 'quesiton', which is not a field of the documents \(fields: question, choices, label\)/);
  const proc = writeTask('proc.yaml', base + 'process_docs: !function kobest.copa_docs\n');
  await assert.rejects(Task.load(cfg(proc), dataDir), /proc\.yaml: field 'process_docs' \(!function kobest.copa_docs\) failed on split 'test': KoBEST COPA Answer: expected a number/);
});

test('!function module.fn loads a function exported by module.mjs beside the task file', async () => {
  writeTask('userfns/myutils.mjs', 'export function prompt(doc) { return `Q: ${doc.question}\\nA:`; }\n');
  const file = writeTask('userfns/custom.yaml', base.replace('doc_to_text: "{{question}}"', 'doc_to_text: !function myutils.prompt'));
  const task = await Task.load({ kind: 'task', name: 'bad', file, config: validateTask(loadWithIncludes(file), file) }, dataDir);
  assert.equal(task.docToText(task.evalDocs[0]!), 'Q: 대한민국의 수도는 어디인가?\nA:');
  const missing = writeTask('userfns/missing.yaml', base.replace('doc_to_text: "{{question}}"', 'doc_to_text: !function nomodule.prompt'));
  assert.throws(() => validateTask(loadWithIncludes(missing), missing), /missing\.yaml: field 'doc_to_text': unknown function/);
});

test('loaders: CSV quoting, QUOTE_NONE TSV, pandas-like typing, gzip, tar members, globs, parallel files', async () => {
  assert.deepEqual(parseDelimited('a,b\n"x, y","say ""hi""\nbye"\n', ',', 0), [['a', 'b'], ['x, y', 'say "hi"\nbye']]);
  assert.deepEqual(parseDelimited('a\tb\n"x\t"y\n', '\t', 3), [['a', 'b'], ['"x', '"y']]);
  const csv = await loadSplit('csv', [join(dataDir, 'quoted.csv')], {}, 'x');
  assert.deepEqual(csv, [{ id: 1, text: 'hello, world', label: true }, { id: 2, text: 'she said "hi"\nand left', label: false }, { id: 3, text: 'plain', label: true }]);
  const tsv = await loadSplit('csv', [join(dataDir, 'unquoted.tsv')], { quoting: 3, keep_strings: true }, 'x');
  assert.deepEqual(tsv, [{ a: '"x', b: 'y"' }, { a: '1', b: '"2' }]);
  const gz = await loadSplit('json', [join(dataDir, 'ko_gen_train.jsonl.gz')], {}, 'x');
  assert.equal(gz.length, 3);
  assert.equal(gz[0]!['question'], '2 더하기 2는?');
  assert.equal(readDataFile(join(dataDir, 'parallel.tar.gz#en.txt')).toString('utf8'), 'Hello\nThank you\nSeoul\n');
  const par = await loadSplit('parallel', { ko: join(dataDir, 'parallel.tar.gz#ko.txt'), en: join(dataDir, 'parallel.tar.gz#en.txt') }, {}, 'x');
  assert.deepEqual(par[1], { ko: '감사합니다', en: 'Thank you', translation: { ko: '감사합니다', en: 'Thank you' } });
  assert.deepEqual(resolveDataFiles('ko_mc_*.jsonl', dataDir).map((f) => f.slice(dataDir.length + 1)), ['ko_mc_test.jsonl', 'ko_mc_train.jsonl']);
  await assert.rejects(loadSplit('parallel', { ko: join(dataDir, 'parallel.tar.gz#ko.txt'), en: join(dataDir, 'ko_text.txt') }, {}, 'task.yaml: data_files.test'), /parallel files differ in length/);
});

test('few-shot contexts equal lm-eval’s: Random(1234).sample per document, target and few-shot delimiters', async () => {
  const index = new TaskIndex([join(fixtures, 'tasks')]);
  const task = await Task.load(index.task('fixture_ko_mc'), dataDir);
  // Random(1234).sample(range(6), 2) gives [3, 0], then [0, 5] (python3).
  assert.equal(task.fewshotContext(task.evalDocs[0]!, 2),
    '질문: 일주일은 며칠인가?\n답: 이레\n\n질문: 하루는 몇 시간인가?\n답: 스물네 시간\n\n질문: 대한민국의 수도는 어디인가?\n답:');
  assert.equal(task.fewshotContext(task.evalDocs[1]!, 2),
    '질문: 하루는 몇 시간인가?\n답: 스물네 시간\n\n질문: 겨울 다음 계절은?\n답: 봄\n\n질문: 한글을 만든 왕은 누구인가?\n답:');
  const reqs = task.constructRequests(task.evalDocs[0]!, 'CTX');
  assert.deepEqual(reqs.map((r) => (r.type === 'loglikelihood' ? r.continuation : '')), [' 부산', ' 서울', ' 대구', ' 광주']);
  // Generation: the gzip train split supplies the shot, the target is the full answer.
  const gen = await Task.load(index.task('fixture_ko_gen'), dataDir);
  const ctx = gen.fewshotContext(gen.evalDocs[0]!, 1);
  assert.match(ctx, /^질문: .*\n답: .*\n#### \d+\n\n질문: 3 더하기 4는\?\n답:$/);
  assert.deepEqual(gen.constructRequests(gen.evalDocs[0]!, ctx)[0], { type: 'generate_until', context: ctx, until: ['\n\n', '질문:'], maxGenToks: 12, temperature: 0, topP: undefined, seed: undefined });
});

test('KoBEST and CLIcK adapters reproduce lm-eval’s prompts and subsets', () => {
  const f = (n: string) => FUNCTIONS.get(n)!;
  const [copa] = f('kobest.copa_docs')([{ ID: 1, sentence: '바지가 컸다.', question: '결과', 1: '밑단을 잘랐다.', 2: '벨트를 맸다.', Answer: 2 }]) as Record<string, unknown>[];
  assert.equal(f('kobest.copa_doc_to_text')(copa), '바지가 컸다.  그래서');
  assert.equal(f('kobest.copa_doc_to_target')(copa), '벨트를 맸다.');
  const [boolq] = f('kobest.boolq_docs')([{ Text: 'p', Question: 'q', Answer: 'TRUE' }]) as Record<string, unknown>[];
  assert.deepEqual(boolq, { paragraph: 'p', question: 'q', label: 1 });
  const docs = [
    { id: 'CSAT_korean_22_5' }, { id: 'CSAT_korean_23_36' }, { id: 'CSAT_korean_23_12' }, { id: 'CSAT_korean_15_14' }, { id: 'CSAT_korean_15_3' },
    { id: 'TK_2016_3' }, { id: 'TK_2016_7' }, { id: 'Kedu_16_1', question: '대화의 내용은?' }, { id: 'Kedu_16_2', question: '맞춤법은?' }, { id: 'Kedu_14_1', question: '대화' },
    { id: 'PSE_korean_1' }, { id: 'KHB_66_1' }, { id: 'PSE_history_13_1' }, { id: 'KIIP_law_1' }, { id: 'PSAT_17_1' },
  ];
  const ids = (fn: string) => (f(fn)(docs) as { id: string }[]).map((d) => d.id);
  assert.deepEqual(ids('click.extract_text'), ['CSAT_korean_22_5', 'CSAT_korean_23_12', 'TK_2016_7']);
  assert.deepEqual(ids('click.extract_grammar'), ['CSAT_korean_15_14', 'TK_2016_3', 'Kedu_16_2', 'Kedu_14_1']);
  assert.deepEqual(ids('click.extract_function'), ['CSAT_korean_23_36', 'CSAT_korean_15_3', 'Kedu_16_1', 'PSE_korean_1']);
  assert.deepEqual(ids('click.extract_history'), ['KHB_66_1', 'PSE_history_13_1']);
  assert.deepEqual(ids('click.extract_law'), ['KIIP_law_1', 'PSAT_17_1']);
  const doc = { id: 'KIIP_economy_1', paragraph: '', question: 'Q?', choices: ['1999년', '2000년', '2001년', '2002년'], answer: '2001년' };
  assert.equal(f('click.get_context')(doc), '주어진 질문을 천천히 읽고, 적절한 정답을 A, B, C, D 중에 골라 알파벳 하나로 답하시오.\n\n질문: Q?\n보기:\nA:1999년, B: 2000년, C: 2001년, D: 2002년\n정답:');
  assert.equal(f('click.get_target')(doc), 'C');
  assert.deepEqual(f('click.get_choices')({ ...doc, id: 'CSAT_korean_22_5' }), ['A', 'B', 'C', 'D', 'E']);
});

test('the evaluator with a scripted backend: aggregation, --limit fractions, samples and chat-template prompts', async () => {
  const index = new TaskIndex([join(fixtures, 'tasks')]);
  const seen: LoglikelihoodRequest[] = [];
  // Log-likelihood 0 for each question's first choice, −1 for the others: the first choice always wins.
  const scripted: Backend = {
    name: 'scripted',
    info: { backend: 'scripted' },
    loglikelihood: async (reqs) => {
      seen.push(...reqs);
      return reqs.map((r) => ({ logprob: ['부산', '세종대왕', '열 달', '50도'].some((c) => r.continuation.endsWith(c)) ? 0 : -1, isGreedy: false }));
    },
    loglikelihoodRolling: () => Promise.reject(new Error('not used')),
    generateUntil: () => Promise.reject(new Error('not used')),
  };
  const samples: Record<string, unknown>[] = [];
  const res = await evaluate({ backend: scripted, tasks: [index.task('fixture_ko_mc')], dataDir, limit: 0.5, bootstrapIters: 0, onSample: (x) => samples.push(x) });
  // labels of the first four test questions: 1, 0, 2, 1 → only the second has the first choice right
  assert.equal(res.results['fixture_ko_mc']!['acc,none'], 0.25);
  assert.equal(res.results['fixture_ko_mc']!['acc_stderr,none'], 'N/A', 'bootstrap 0 = no standard errors');
  assert.deepEqual(res['n-samples']['fixture_ko_mc'], { original: 8, effective: 4 });
  assert.equal(samples.length, 4);
  assert.deepEqual(samples[1]!['metrics'], { acc: 1, acc_norm: 1, acc_bytes: 1, f1: [0, 0], mcc: [0, 0] });
  assert.equal(seen.length, 16);
  assert.equal(seen[0]!.continuation, ' 부산');
  seen.length = 0;
  await evaluate({ backend: scripted, tasks: [index.task('fixture_ko_mc')], dataDir, limit: 1, numFewshot: 0, chat: (t) => `<|user|>${t}<|assistant|>` });
  assert.deepEqual(seen.map((r) => [r.context, r.continuation]), ['부산', '서울', '대구', '광주'].map((c) => ['<|user|>질문: 대한민국의 수도는 어디인가?\n답:<|assistant|>', c]));
});
