/** A tiny random model's inference runtime and seeded prompts, shared by the generation and scheduler tests. */
import type { ModelConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { createInferenceSessions } from '../../src/infer/sessions.js';
import type { InferenceRuntime } from '../../src/infer/generate.js';
import { rng } from '../../src/util/random.js';

export async function tinyRuntime(c: ModelConfig): Promise<InferenceRuntime> {
  return { config: c, sessions: await createInferenceSessions(c, initParams(c, 3), { threads: 1 }) };
}

export function randomPrompt(n: number, seed: number, vocab: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * vocab));
}
