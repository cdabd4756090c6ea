/**
 * Alignment data mixes from real, training-licensed sources plus generated tasks, reproducible for a seed:
 *
 *   SFT chats        chatbot_data (MIT, Korean single-turn), HG-TODS dialogues (MIT, Korean multi-turn), GSM8K train
 *                    (MIT, English math), en↔ko translation instructions both ways from the Debian parallel pairs
 *                    (per-record licences), generated arithmetic word problems (Korean/English, verifiable answers),
 *                    code tasks, safe refusals/redirects for harmful requests and helpful answers to benign requests
 *                    that merely sound sensitive.
 *   Preferences      SQuARe acceptable vs non-acceptable responses (MIT), harmful requests with refusal (chosen) vs
 *                    compliance (rejected), benign requests with help (chosen) vs needless refusal (rejected), and
 *                    synthetic negatives: wrong final answers, untranslated copies, off-topic answers.
 *   PPO prompts      harmful, benign-sensitive, everyday chat and arithmetic prompts (arithmetic with `answer`).
 *   Held-out eval    harmful prompts from request templates never trained on, benign prompts (held-out chats,
 *                    GSM8K train questions kept out of SFT, held-out benign templates), arithmetic with answers.
 *
 * Evaluation-only sets (KorQuAD, KLUE, KoBEST, HumanEval, MBPP, GSM8K test, …) are never read.
 *
 * The parts: sft-mix/types.ts (counts, options, sources, record shapes), sft-mix/readers.ts (the real sources),
 * sft-mix/generators.ts (generated tasks), sft-mix/build.ts (the assembly) and sft-mix/write.ts (files and README).
 */
export { buildSftMix } from './sft-mix/build.js';
export { arithmeticProblem, codeAnswer, harmfulPrompts } from './sft-mix/generators.js';
export { parseCsv, readChatbot, readDialogues, readGsm8k, readParallel, readSquare } from './sft-mix/readers.js';
export { DEFAULT_COUNTS, SOURCES, type MixCounts, type MixManifest, type SftMixOptions, type SourceName } from './sft-mix/types.js';
export { mixReadme } from './sft-mix/write.js';
