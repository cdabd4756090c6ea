/** What an alignment data mix is made of: its counts and options, its sources and the shapes of its records. */
import type { Lang } from '../sft-templates.js';

export interface MixCounts {
  /** Korean single-turn chats from chatbot_data. */
  chatbot: number;
  /** Korean multi-turn dialogues from HG-TODS. */
  dialogues: number;
  /** English GSM8K train problems (solutions with the final answer). */
  gsm8k: number;
  /** Translation instructions per direction. */
  translation: number;
  /** Generated arithmetic problems per language. */
  arithmetic: number;
  /** Code tasks per language. */
  code: number;
  /** Harmful requests with safe answers, per language (SFT and preference pairs each). */
  safety: number;
  /** Benign-sensitive requests per language. */
  benign: number;
  /** Preference pairs with synthetic negatives per kind (arithmetic, translation, off-topic). */
  negatives: number;
  /** PPO prompts per kind (harmful, benign, chat, arithmetic). */
  ppo: number;
  /**
   * Over-refusal pairs from HG-TODS dialogue openings (device and music questions): the real reply preferred over a
   * stock refusal. 0 by default, which keeps the default mix as it was.
   */
  dialogueRefusals: number;
}

export const DEFAULT_COUNTS: MixCounts = { chatbot: 6000, dialogues: 1500, gsm8k: 1500, translation: 1500, arithmetic: 1000, code: 200, safety: 300, benign: 150, negatives: 400, ppo: 64, dialogueRefusals: 0 };

export interface SftMixOptions {
  /** Folder holding `external/` and `raw/` (the project's shared data folder). */
  data: string;
  out: string;
  seed?: number;
  counts?: Partial<MixCounts>;
  /** Share of each real source kept out of training for validation and evaluation (default 0.04)… */
  validFraction?: number;
  /** …at most this many records per source (default 200)… */
  maxValid?: number;
  /** …of which at most this many per source become evaluation prompts (default 100). */
  maxEval?: number;
  force?: boolean;
}

export type Message = { role: string; content: string };
export interface ChatRecord { messages: Message[]; source: string; lang: Lang; license: string; [k: string]: unknown }
export interface PrefRecord { prompt: Message[]; chosen: string; rejected: string; source: string; lang: Lang; license: string; [k: string]: unknown }
export interface PromptRecord { prompt: Message[]; source: string; lang: Lang; kind: string; license: string; answer?: number; [k: string]: unknown }

export const SOURCES = {
  chatbot: { files: ['external/chatbot_data/ChatbotData.csv'], license: 'MIT', upstream: 'github.com/songys/Chatbot_data @ 4cf20d13fc46' },
  dialogues: {
    files: [
      'external/hg-tods-dialogues/Music_commonsense_knowledge_graph_grounded_dialogues/dev_dialog.json.gz',
      'external/hg-tods-dialogues/Music_commonsense_knowledge_graph_grounded_dialogues/test_dialog.json.gz',
      'external/hg-tods-dialogues/Manual_grounded_dialogue_dataset/manual2dial_dial_validation.json.gz',
      'external/hg-tods-dialogues/Manual_grounded_dialogue_dataset/manual2dial_dial_test.json.gz',
    ],
    license: 'MIT', upstream: 'github.com/NLPlab-skku/HG-TODS @ 7c8cea000b82',
  },
  gsm8k: { files: ['external/gsm8k/train.jsonl.gz'], license: 'MIT', upstream: 'github.com/openai/grade-school-math @ 3101c7d50724 (train split only)' },
  square: { files: ['external/square/response_test_ood.json'], license: 'MIT', upstream: 'github.com/naver-ai/korean-safety-benchmarks @ e32837cd19c4 (SQuARe OOD responses)' },
  parallel: { files: ['raw/parallel.en-ko.jsonl.gz'], license: 'per record (Debian packages: GPL/LGPL/MPL/GFDL/CC-BY-SA/MIT/…; kept in each record)', upstream: 'Debian 12 packages (raw/README.md)' },
  generated: { files: [], license: 'Apache-2.0 (kolm templates, src/data/sft-templates.ts)', upstream: 'kolm' },
} as const;

export type SourceName = keyof typeof SOURCES;

export interface MixManifest {
  format: 'kolm-sft-mix';
  version: 1;
  seed: number;
  counts: MixCounts;
  validFraction: number;
  maxValid: number;
  maxEval: number;
  sources: Record<string, { files: readonly string[]; license: string; upstream: string }>;
  /** Records per output file and source. */
  files: Record<string, { records: number; sha256: string; bySource: Record<string, number> }>;
  notes: string[];
}
