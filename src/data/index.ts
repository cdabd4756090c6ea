/** Public API of the data pipeline: stages usable one by one, the streaming build, shards and the training loader. */
export * from './types.js';
export { BadInputError } from './errors.js';
export { readRecords, expandPaths, formatOf, type SourceRecord, type ReadOptions, type InputFormat, type TextSplit } from './sources.js';
export { sourceDocuments } from './documents.js';
export { normalizeText, defaultNormalize, type NormalizeOptions } from './normalize.js';
export { identifyLanguage, countScripts, isCodePath, defaultLangId, type LangIdOptions } from '../text/language.js';
export { QualityFilter, defaultQuality, defaultBoilerplate, type QualityOptions } from './quality.js';
export { PiiScrubber, defaultPii, luhnValid, type PiiOptions, type PiiType } from './pii.js';
export { SafetyFilter, loadLexicons, defaultSafety, type SafetyOptions } from './safety.js';
export { Deduplicator, exactKey, lshParams, defaultDedup, type DedupOptions } from './dedup.js';
export { planMix, copiesFor, isValidation, defaultMix, type MixOptions, type MixPlan } from './mix.js';
export { fimTransform, fimRestore, fimTokens, defaultFim, type FimOptions } from './fim.js';
export { ShardWriter, readIndex, readTokens, dtypeFor, bytesPer, INDEX_FILE, type ShardIndex, type ShardInfo, type Split, type TokenDtype } from './shards.js';
export { TokenLoader, type LoaderOptions, type LoaderState } from './loader.js';
export { loadConfig, resolveConfig, type DataConfig, type SourceConfig } from './config.js';
export { buildCorpus, type BuildOptions, type BuildResult, type BuildStats } from './pipeline.js';
export { StageStats } from './stats.js';
export { loadTokenizer } from './tokenizer.js';
