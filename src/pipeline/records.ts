/** Reading what stages leave behind: JSON files and JSONL logs, tolerant of files that are missing or cut short. */
import { readFileSync } from 'node:fs';

/** The parsed file, or undefined when it is missing or not valid JSON. */
export function readJson(path: string | undefined): unknown {
  if (!path) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The parseable object lines of a JSONL file (a run cut short may leave a partial last line); [] when missing. */
export function readJsonl(path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(v as Record<string, unknown>);
    } catch {
      // a partial line
    }
  }
  return out;
}
