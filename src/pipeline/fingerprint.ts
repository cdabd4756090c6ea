/** Content hashes of the files and folders a stage reads, so a stage reruns when its inputs change. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const cache = new Map<string, string>();

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file's bytes, or of a folder's sorted (relative path, file hash) list; hidden entries are ignored. */
export function fingerprint(path: string): string {
  const st = statSync(path);
  const key = `${path}\0${st.size}\0${st.mtimeMs}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let digest: string;
  if (st.isDirectory()) {
    const h = createHash('sha256');
    for (const file of listFiles(path)) h.update(`${relative(path, file)}\0${fingerprint(file)}\n`);
    digest = h.digest('hex');
  } else {
    digest = sha256(readFileSync(path));
  }
  cache.set(key, digest);
  return digest;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(p));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}
