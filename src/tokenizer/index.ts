/** Korean-first byte-level BPE: training (morpheme-aware), encoding, HF tokenizer.json / tokenizer_config.json. */
export { Tokenizer, type EncodeOptions } from './tokenizer.js';
export { trainTokenizer, trainTokenizerWithStats, DEFAULT_LEXICON_DIR, type TrainOptions, type TrainStats } from './trainer.js';
export { SPECIAL_TOKENS, DEFAULT_SPECIAL_TOKENS } from './special-tokens.js';
export { DEFAULT_CHAT_TEMPLATE, type ChatMessage, type RenderChatOptions } from './chat-template.js';
export { QWEN2_SPLIT_PATTERN, preTokenize } from './pretokenize.js';
export { MorphemeSegmenter } from './morpheme/segmenter.js';
export { readCorpus } from './corpus.js';
