/**
 * Reader for hunspell dictionaries with numeric flags and flag aliases, as hunspell-ko ships them (`FLAG num`, `AF`,
 * NFD jamo). Only what suffix analysis needs is kept: lemmas with their flags and the SFX rules indexed by the text
 * they append.
 */
import { readFile } from 'node:fs/promises';
import { KolmError } from '../../util/errors.js';

export interface SuffixRule {
  flag: number;
  /** Removed from the lemma before `add` is appended ('' for none). */
  strip: string;
  /** Flags of rules that may follow this one (hunspell's twofold suffixes). */
  continuation: ReadonlySet<number> | undefined;
  /** Condition on the end of the lemma; undefined matches any. */
  condition: RegExp | undefined;
}

export interface HunspellLexicon {
  /** Lemma (as in the .dic, NFD) → its flags; lemmas usable only inside compounds are left out. */
  lemmas: Map<string, ReadonlySet<number>>;
  /** Appended text → the rules that append it. */
  rulesByAdd: Map<string, SuffixRule[]>;
  /** Flags named in some rule's continuation class: in hunspell-ko, the particles (조사) and copula endings. */
  continuationFlags: ReadonlySet<number>;
}

const EMPTY: ReadonlySet<number> = new Set();

export async function readHunspell(affPath: string, dicPath: string): Promise<HunspellLexicon> {
  const aff = await readText(affPath);
  const dic = await readText(dicPath);
  const aliases: ReadonlySet<number>[] = [];
  const conditions = new Map<string, RegExp | undefined>();
  const rulesByAdd = new Map<string, SuffixRule[]>();
  const continuationFlags = new Set<number>();
  const skipFlags = new Set<number>();
  const flagsOf = (field: string): ReadonlySet<number> => {
    if (!field) return EMPTY;
    // With AF aliases in use, a single number names the n-th AF line (1-based).
    if (aliases.length && /^\d+$/.test(field)) return aliases[Number(field) - 1] ?? EMPTY;
    return new Set(field.split(',').map(Number));
  };

  let afSeen = 0;
  for (const [lineNo, line] of aff.split('\n').entries()) {
    const parts = line.trim().split(/\s+/);
    const where = `${affPath}:${lineNo + 1}`;
    if (parts[0] === 'AF') {
      if (afSeen++ === 0 && parts.length === 2 && /^\d+$/.test(parts[1]!)) continue; // the count line
      aliases.push(new Set(parts[1]!.split(',').map(Number)));
    } else if (parts[0] === 'ONLYINCOMPOUND' || parts[0] === 'FORBIDDENWORD') {
      skipFlags.add(Number(parts[1]));
    } else if (parts[0] === 'SFX' && parts.length >= 5) {
      const [, flag, strip, addField, cond] = parts as [string, string, string, string, string];
      if (!/^\d+$/.test(flag)) throw new KolmError(`${where}: SFX flag '${flag}' is not numeric (only FLAG num is supported)`);
      const slash = addField.indexOf('/');
      const add = slash < 0 ? addField : addField.slice(0, slash);
      const continuation = slash < 0 ? undefined : flagsOf(addField.slice(slash + 1));
      continuation?.forEach((f) => continuationFlags.add(f));
      if (!conditions.has(cond)) conditions.set(cond, cond === '.' ? undefined : compileCondition(cond, where));
      const rule: SuffixRule = { flag: Number(flag), strip: strip === '0' ? '' : strip, continuation, condition: conditions.get(cond) };
      const key = add === '0' ? '' : add;
      const list = rulesByAdd.get(key);
      if (list) list.push(rule);
      else rulesByAdd.set(key, [rule]);
    }
  }

  const lemmas = new Map<string, ReadonlySet<number>>();
  for (const line of dic.split('\n').slice(1)) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const slash = trimmed.indexOf('/');
    const word = slash < 0 ? trimmed : trimmed.slice(0, slash);
    const flags = flagsOf(slash < 0 ? '' : trimmed.slice(slash + 1).split(/\s/)[0]!);
    if ([...flags].some((f) => skipFlags.has(f))) continue;
    const known = lemmas.get(word);
    lemmas.set(word, known ? new Set([...known, ...flags]) : flags);
  }
  if (lemmas.size === 0) throw new KolmError(`${dicPath}: no words read`);
  return { lemmas, rulesByAdd, continuationFlags };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new KolmError(`cannot read hunspell file ${path}: ${(err as Error).message}`);
  }
}

/** A hunspell condition ('.', literal chars and [...] / [^...] classes) is regex syntax already; it anchors at the end. */
function compileCondition(cond: string, where: string): RegExp {
  try {
    return new RegExp(`(?:${cond})$`, 'u');
  } catch {
    throw new KolmError(`${where}: bad SFX condition '${cond}'`);
  }
}
