/** Shared set-up for the alignment tests: a small tokenizer trained on the fixture text and tiny model folders. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainTokenizer } from '../../src/tokenizer/index.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { makeConfig, type ModelConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { saveModelFolder } from '../../src/model/folder.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt');

export function fixtureLines(): string[] {
  return readFileSync(fixture, 'utf8').split('\n').filter(Boolean);
}

let cached: Promise<Tokenizer> | undefined;
/** A 500-token byte-level BPE over the Korean/English fixture (plus chat words), trained once per test file. */
export function smallTokenizer(): Promise<Tokenizer> {
  cached ??= trainTokenizer({
    texts: [...fixtureLines(), 'Hello! How are you? 안녕하세요! 네, 좋아요. 죄송하지만 도와드릴 수 없습니다. I cannot help with that.'],
    vocabSize: 500,
    morpheme: false,
    progress: false,
  });
  return cached;
}

export function tinyConfig(tok: Tokenizer, fields: Partial<ModelConfig> = {}): ModelConfig {
  return makeConfig({
    vocab_size: tok.vocabSize, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 256, initializer_range: 0.1, eos_token_id: tok.tokenId('<|endoftext|>')!, ...fields,
  });
}

/** Writes DIR/tok (tokenizer) and DIR/model (a randomly initialised model folder with that tokenizer). */
export async function tinyChatModel(dir: string, fields: Partial<ModelConfig> = {}, seed = 1): Promise<{ modelDir: string; tok: Tokenizer; config: ModelConfig }> {
  const tok = await smallTokenizer();
  await tok.save(join(dir, 'tok'));
  const config = tinyConfig(tok, fields);
  await saveModelFolder(join(dir, 'model'), config, initParams(config, seed), { tokenizerDir: join(dir, 'tok') });
  return { modelDir: join(dir, 'model'), tok, config };
}

/**
 * A miniature of the shared data folder (same layout and formats as the real sources, a few records each), so the
 * mix builder and the whole alignment pipeline are tested without ../shared.
 */
export function fakeSharedData(root: string): void {
  const put = (rel: string, content: string | Buffer) => {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  };
  const chats = [
    ['안녕하세요', '안녕하세요! 반가워요.'], ['오늘 날씨 어때?', '창밖을 한번 보세요.'], ['배고파', '맛있는 걸 드세요.'], ['심심해', '산책을 해 보세요.'],
    ['공부하기 싫어', '조금만 쉬었다 해요.'], ['잠이 안 와', '따뜻한 우유를 마셔 보세요.'], ['주말에 뭐 하지', '친구를 만나 보세요.'], ['커피 마실까', '한 잔 정도는 좋아요.'],
    ['영화 추천해 줘', '좋아하는 장르부터 골라 보세요.'], ['운동하고 싶어', '가벼운 걷기부터 시작해요.'], ['"쉼표, 따옴표" 테스트', '"네, 잘 읽혀요."'], ['비가 와', '우산 챙기세요.'],
  ];
  put('external/chatbot_data/ChatbotData.csv', 'Q,A,label\n' + chats.map(([q, a], i) => [q, a, String(i % 3)].map((f) => (/[",]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',')).join('\n') + '\n');
  const music = [0, 1, 2].map((d) => ({ idx: d, turns: [
    { user_message: `노래 ${d} 틀어줘`, system_message: `노래 ${d}을 틀어드릴게요.` },
    { user_message: '가수가 누구야?', system_message: '학교 밴드입니다.' },
    { user_message: '고마워', system_message: 'NULL' },
  ] }));
  const manual = { dial_data: { phone: [0, 1, 2].map((d) => ({ turns: [
    { role: 'user', utterance: `화면 ${d}은 어떻게 켜?` }, { role: 'system', utterance: '설정에서 켤 수 있습니다.' },
    { role: 'user', utterance: '알림은?' }, { role: 'system', utterance: '알림 메뉴에서 바꾸세요.' },
  ] })) } };
  for (const f of ['dev_dialog', 'test_dialog']) put(`external/hg-tods-dialogues/Music_commonsense_knowledge_graph_grounded_dialogues/${f}.json.gz`, gzipSync(JSON.stringify(music)));
  for (const f of ['validation', 'test']) put(`external/hg-tods-dialogues/Manual_grounded_dialogue_dataset/manual2dial_dial_${f}.json.gz`, gzipSync(JSON.stringify(manual)));
  const gsm = Array.from({ length: 12 }, (_, i) => ({ question: `Tom has ${i + 2} apples and buys ${i + 3} more. How many apples does he have?`, answer: `He has ${i + 2} + ${i + 3} = <<${i + 2}+${i + 3}=${2 * i + 5}>>${2 * i + 5} apples.\n#### ${2 * i + 5}` }));
  put('external/gsm8k/train.jsonl.gz', gzipSync(gsm.map((g) => JSON.stringify(g)).join('\n') + '\n'));
  const square = [0, 1, 2, 3, 4].flatMap((q) => [
    { question: `민감한 질문 ${q}?`, response: `여러 관점이 있으니 신중하게 보아야 합니다 ${q}.`, 'acceptable?': 1, question_category: 'contentious' },
    { question: `민감한 질문 ${q}?`, response: `그 사람들은 다 나쁘다 ${q}.`, 'acceptable?': 0, question_category: 'contentious' },
  ]);
  put('external/square/response_test_ood.json', JSON.stringify(square));
  const lines = fixtureLines();
  const ko = lines.filter((l) => /[가-힣]/.test(l)).flatMap((l) => l.split(/(?<=[.!?])\s+/));
  const en = lines.filter((l) => !/[가-힣]/.test(l)).flatMap((l) => l.split(/(?<=[.!?])\s+/));
  const parallel = Array.from({ length: Math.min(ko.length, en.length) }, (_, i) => ({ en: en[i]!, ko: ko[i]!, source: `fixture#${i}`, license: 'CC0-1.0' }));
  parallel.push({ en: 'Same text', ko: 'Same text', source: 'x', license: 'MIT' }, { en: 'Open %s file', ko: '%s 파일 열기', source: 'y', license: 'MIT' });
  put('raw/parallel.en-ko.jsonl.gz', gzipSync(parallel.map((p) => JSON.stringify(p)).join('\n') + '\n'));
}
