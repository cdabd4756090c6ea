import { existsSync, promises as fsp, writeFileSync, renameSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** A sibling temp path, so the final rename stays on one filesystem and is atomic. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
}

/** Write a file so readers see either the old content or the whole new content, never a prefix; `data` may be chunks. */
export async function writeFileAtomic(path: string, data: string | Uint8Array | Iterable<Uint8Array>): Promise<void> {
  await fsp.mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Build a folder so readers see either the old folder or the whole new one: `fill` writes into a sibling temp
 * folder, which then replaces `dir` by rename (the old one is removed after). Nothing is left behind on failure.
 */
export async function writeFolderAtomic(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  await fsp.mkdir(dirname(dir), { recursive: true });
  const tmp = tempPathFor(dir);
  await fsp.mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    const old = existsSync(dir) ? `${tmp}.old` : undefined;
    if (old) await fsp.rename(dir, old);
    await fsp.rename(tmp, dir);
    if (old) await fsp.rm(old, { recursive: true, force: true });
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
