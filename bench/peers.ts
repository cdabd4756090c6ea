/**
 * The engines and tokenizers the benchmarks compare kolm against are development dependencies, so a kolm installed
 * from the registry or a tarball does not have them. `loadPeers` loads a benchmark's peers before anything is
 * measured and, when some are missing, names the packages to install (at the versions kolm is tested with) instead
 * of stopping halfway with ERR_MODULE_NOT_FOUND.
 */
import { readFileSync } from 'node:fs';
import { KolmError } from '../src/util/errors.js';

/** kolm's package.json, from the compiled module (dist/bench/peers.js → the package root). */
const packageJson = new URL('../../package.json', import.meta.url);

/** The version range kolm's package.json gives a development dependency. */
function testedRange(name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(packageJson, 'utf8')) as { devDependencies?: Record<string, string> }).devDependencies?.[name];
  } catch {
    return undefined;
  }
}

function notInstalled(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** The `npm install` argument for a package: NAME@RANGE, quoted for the shell. */
export function installSpec(name: string): string {
  const range = testedRange(name);
  return range ? `'${name}@${range}'` : name;
}

export type PeerLoaders<T> = { [K in keyof T]: { pkg: string; load: () => T[K] | Promise<T[K]> } };

/** Loads every peer of `bench`; throws a KolmError naming all missing packages and how to install them. */
export async function loadPeers<T extends Record<string, unknown>>(bench: string, peers: PeerLoaders<T>): Promise<T> {
  const loaded: Partial<T> = {};
  const missing = new Set<string>();
  for (const key of Object.keys(peers) as (keyof T)[]) {
    const { pkg, load } = peers[key];
    try {
      loaded[key] = await load();
    } catch (err) {
      if (!notInstalled(err)) throw err;
      missing.add(pkg);
    }
  }
  if (missing.size) {
    const names = [...missing];
    throw new KolmError(
      `kolm bench ${bench} measures kolm against ${names.join(', ')}, which ${names.length > 1 ? 'are' : 'is'} not installed here ` +
      `(development dependencies of kolm). Install ${names.length > 1 ? 'them' : 'it'} for the comparison: npm install ${names.map(installSpec).join(' ')}`,
    );
  }
  return loaded as T;
}
