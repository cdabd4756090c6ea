/** The in-process recipe steps that wrap library functions: sample generations and the run report. */
import type { Value } from './recipe.js';
import type { BuiltinContext } from './stages.js';
import { writeSamples, DEFAULT_PROMPTS } from './samples.js';
import { writeReport } from './report.js';

export async function samplesStage(args: Record<string, Value>, ctx: BuiltinContext): Promise<void> {
  const models = (args['models'] as Value[]).map((m, i) => {
    const o = m as Record<string, Value>;
    if (typeof o?.['dir'] !== 'string') throw new Error(`samples: models[${i}].dir must be a model folder`);
    return { name: String(o['name'] ?? o['dir']), dir: o['dir'] as string, chat: o['chat'] !== false };
  });
  await writeSamples({ models, prompts: DEFAULT_PROMPTS, out: ctx.dir, maxNewTokens: typeof args['max-new-tokens'] === 'number' ? args['max-new-tokens'] : undefined });
}

export async function reportStage(_args: Record<string, Value>, ctx: BuiltinContext): Promise<void> {
  await writeReport(ctx.run);
}
