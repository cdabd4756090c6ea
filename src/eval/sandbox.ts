/**
 * Runs untrusted generated code (HumanEval/MBPP completions) in a separate process, confined in layers:
 *
 * - a fresh temporary directory as working directory, HOME and TMPDIR, removed afterwards; a clean environment;
 * - a wall-clock timeout that kills the whole process group, plus CPU-time, address-space / data, file-size and
 *   open-file rlimits;
 * - no network: a new network namespace (`unshare -n`, or `unshare -rn` without root) when the system allows it,
 *   in which only an unconfigured loopback exists; otherwise the in-process blocks below;
 * - Python (`-I -S -B`, so no site-packages, user site or environment variables): a PEP 578 audit hook installed
 *   before the program runs that refuses sockets, process creation (fork/exec/spawn/system/subprocess), ctypes,
 *   file writes, renames and deletions outside the temporary directory, reads outside it and the standard library,
 *   raising rlimits, and tampering with functions' code or tracing. The hook holds only immutable values and
 *   built-in functions, so patching modules (os.path, builtins) cannot change its decisions;
 * - JavaScript: Node's permission model (`--experimental-permission`) with reads and writes allowed only in the
 *   temporary directory and no child processes, workers or native addons; network is the namespace's job (or a
 *   preload that disables net/dgram/dns when no namespace is available).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KolmError } from '../util/errors.js';

export type Language = 'python' | 'javascript';

export interface SandboxOptions {
  /** Wall-clock limit (default 10 s). */
  timeoutMs?: number;
  /** CPU-time limit in seconds (default: the wall-clock limit, rounded up). */
  cpuSeconds?: number;
  /** Memory limit in MiB (address space for Python, data segment + V8 heap for Node; default 1024). */
  memoryMb?: number;
  /** Largest file the program may write, MiB (default 16). */
  fileSizeMb?: number;
  /** Bytes of stdout/stderr kept (default 64 KiB each). */
  maxOutputBytes?: number;
  /** Python interpreter (default: python3 on PATH, resolved to the real executable). */
  python?: string;
  /** 'auto' (default): a network namespace when available, else in-process blocks only. */
  network?: 'auto' | 'namespace' | 'in-process';
}

export interface RunResult {
  status: 'passed' | 'failed' | 'timeout';
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** The confinement layers that applied. */
  isolation: string[];
}

const PY_HARNESS = String.raw`
import sys, os, resource
ROOT = os.path.realpath(os.getcwd())
_mem, _cpu, _fsize = (int(a) for a in sys.argv[1:4])
with open(os.path.join(ROOT, 'program.py'), 'r', encoding='utf-8') as _f:
    _src = _f.read()
for _lim, _val in ((resource.RLIMIT_AS, _mem), (resource.RLIMIT_CPU, _cpu), (resource.RLIMIT_FSIZE, _fsize),
                   (resource.RLIMIT_NOFILE, 64), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, 0)):
    try:
        _hard = _val + 1 if _lim == resource.RLIMIT_CPU else _val
        resource.setrlimit(_lim, (_val, _hard))
    except (ValueError, OSError):
        pass

def _install():
    _read_roots = tuple(sorted({os.path.realpath(p) for p in sys.path if p and os.path.isdir(os.path.realpath(p))} | {ROOT}))
    _devices = ('/dev/null', '/dev/urandom', '/dev/random', '/dev/zero')
    _blocked_prefixes = ('socket.', 'ctypes.', 'os.exec', 'os.spawn', 'os.posix_spawn', 'subprocess.', 'pty.', '_posixsubprocess.',
                         'resource.setrlimit', 'resource.prlimit', 'sys.settrace', 'sys.setprofile', 'gc.get_referrers',
                         'gc.get_referents', 'gc.get_objects', 'sys._current_frames', 'os.fork', 'os.forkpty', 'os.system',
                         'os.kill', 'os.killpg', 'signal.pthread_kill', 'os.symlink', 'os.link', 'os.mkfifo', 'os.mknod',
                         'os.chflags', 'os.lchflags', 'os.setxattr', 'os.removexattr', 'shutil.rmtree', 'webbrowser.', 'sqlite3.')
    _blocked_modules = ('ctypes', '_ctypes', '_posixsubprocess', 'subprocess', 'multiprocessing', '_multiprocessing', 'pty',
                        'socket', '_socket', 'ssl', '_ssl', 'select', 'selectors', 'asyncio', 'fcntl', 'mmap', 'resource', 'signal')
    # event: (positions of paths, positions of dir_fd arguments)
    _path_events = (('os.remove', (0,), (1,)), ('os.rmdir', (0,), (1,)), ('os.mkdir', (0,), (2,)), ('os.chmod', (0,), (2,)),
                    ('os.chown', (0,), (3,)), ('os.utime', (0,), (3,)), ('os.truncate', (0,), ()), ('os.rename', (0, 1), (2, 3)))
    _tamper = ('__code__', '__closure__')
    W = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def hook(event, args, ROOT=ROOT, R=_read_roots, DEV=_devices, BP=_blocked_prefixes, BM=_blocked_modules, PE=_path_events,
             TAMPER=_tamper, W=W, getcwd=os.getcwd, fspath=os.fspath, stat=os.stat,
             isinstance=isinstance, str=str, bytes=bytes, int=int, len=len, PermissionError=PermissionError, OSError=OSError):
        if event.startswith(BP):
            raise PermissionError('sandbox: ' + event + ' is not allowed')
        if event == 'import':
            name = args[0]
            if isinstance(name, str) and (name in BM or name.split('.')[0] in BM):
                raise PermissionError('sandbox: import of ' + name + ' is not allowed')
            return
        if event == 'object.__setattr__':
            if len(args) > 1 and args[1] in TAMPER:
                raise PermissionError('sandbox: setting ' + str(args[1]) + ' is not allowed')
            return
        paths = ()
        write = True
        if event == 'open':
            p, mode, flags = args[0], args[1], args[2]
            if isinstance(p, int):
                return
            write = False
            if isinstance(flags, int) and flags > 0 and (flags & W) != 0:
                write = True
            if isinstance(mode, str):
                for c in 'wax+':
                    if c in mode:
                        write = True
            paths = (p,)
        elif event == 'os.listdir' or event == 'os.scandir':
            if isinstance(args[0], int):
                return
            write = False
            paths = (args[0] if args[0] is not None else '.',)
        else:
            for name, path_pos, fd_pos in PE:
                if name == event:
                    for i in fd_pos:
                        if i < len(args) and isinstance(args[i], int) and args[i] >= 0:
                            raise PermissionError('sandbox: ' + event + ' relative to a directory descriptor is not allowed')
                    paths = []
                    for i in path_pos:
                        if i < len(args) and not isinstance(args[i], int):
                            paths.append(args[i])
                    break
            else:
                return
        for p in paths:
            p = fspath(p)
            if isinstance(p, bytes):
                p = p.decode('utf-8', 'surrogateescape')
            if not p.startswith('/'):
                p = getcwd() + '/' + p
            parts = []
            for part in p.split('/'):
                if part == '' or part == '.':
                    continue
                if part == '..':
                    if parts:
                        parts.pop()
                    continue
                parts.append(part)
            p = '/' + '/'.join(parts)
            inside = p == ROOT or p.startswith(ROOT + '/')
            if inside:
                continue
            if write:
                raise PermissionError('sandbox: writing ' + p + ' is not allowed')
            readable = p in DEV
            for r in R:
                if p == r or p.startswith(r + '/'):
                    readable = True
            if not readable:
                raise PermissionError('sandbox: reading ' + p + ' is not allowed')
            if event == 'open':
                try:
                    st = stat(p)
                except OSError:
                    continue
                if (st.st_mode & 0o170000) == 0o040000:
                    raise PermissionError('sandbox: opening directory ' + p + ' is not allowed')
    sys.addaudithook(hook)

_install()
del _install
_code = compile(_src, 'program.py', 'exec')
del _src, _f, _lim, _val, _mem, _cpu, _fsize
exec(_code, {'__name__': '__main__', '__builtins__': __builtins__})
`;

const NODE_NET_BLOCK = `'use strict';
const deny = (what) => () => { const e = new Error('sandbox: ' + what + ' is not allowed'); e.code = 'ERR_ACCESS_DENIED'; throw e; };
const net = require('node:net');
net.Socket.prototype.connect = deny('network');
net.Server.prototype.listen = deny('network');
net.connect = net.createConnection = deny('network');
const dgram = require('node:dgram');
dgram.createSocket = deny('network');
const dns = require('node:dns');
for (const k of ['lookup', 'resolve', 'resolve4', 'resolve6', 'reverse']) dns[k] = deny('dns');
globalThis.fetch = deny('network');
`;

interface Capabilities {
  netns: string[] | undefined;
  prlimit: boolean;
  python: string | undefined;
}
let caps: Capabilities | undefined;
const pythonCache = new Map<string, string | undefined>();

function capabilities(): Capabilities {
  if (caps) return caps;
  const ok = (cmd: string, args: string[]) => {
    try {
      return spawnSync(cmd, args, { stdio: 'ignore', timeout: 5000 }).status === 0;
    } catch {
      return false;
    }
  };
  const isRoot = process.getuid?.() === 0;
  let netns: string[] | undefined;
  if (isRoot && ok('unshare', ['-n', 'true'])) netns = ['unshare', '-n', '--'];
  else if (ok('unshare', ['-rn', 'true'])) netns = ['unshare', '-rn', '--'];
  caps = { netns, prlimit: ok('prlimit', ['--version']), python: undefined };
  return caps;
}

function resolvePython(python: string): string | undefined {
  if (pythonCache.has(python)) return pythonCache.get(python);
  let real: string | undefined;
  try {
    const r = spawnSync(python, ['-I', '-S', '-c', 'import sys; print(sys.executable)'], { encoding: 'utf8', timeout: 15000 });
    if (r.status === 0 && r.stdout.trim()) real = r.stdout.trim();
  } catch {
    real = undefined;
  }
  pythonCache.set(python, real);
  return real;
}

/** What the sandbox can use on this machine (for results headers and test skips). */
export function sandboxInfo(opts: SandboxOptions = {}): { python: string | undefined; networkNamespace: boolean; prlimit: boolean } {
  const c = capabilities();
  return { python: resolvePython(opts.python ?? 'python3'), networkNamespace: Boolean(c.netns), prlimit: c.prlimit };
}

/** Run one program; passes when it exits 0 within the limits. */
export async function runProgram(language: Language, code: string, opts: SandboxOptions = {}): Promise<RunResult> {
  const c = capabilities();
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const cpu = opts.cpuSeconds ?? Math.ceil(timeoutMs / 1000);
  const memBytes = (opts.memoryMb ?? 1024) * 1024 * 1024;
  const fsize = (opts.fileSizeMb ?? 16) * 1024 * 1024;
  const netMode = opts.network ?? 'auto';
  if (netMode === 'namespace' && !c.netns) throw new KolmError('sandbox: a network namespace was required but `unshare -n` / `unshare -rn` is not available');
  const useNetns = netMode !== 'in-process' && c.netns;
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'kolm-sandbox-')));
  const isolation: string[] = ['temp-dir', 'clean-env', 'timeout', 'rlimits'];
  let argv: string[];
  try {
    if (language === 'python') {
      const python = resolvePython(opts.python ?? 'python3');
      if (!python) throw new KolmError(`sandbox: Python interpreter '${opts.python ?? 'python3'}' not found (needed to run Python code; pass --python PATH)`);
      writeFileSync(join(root, 'program.py'), code);
      writeFileSync(join(root, '.harness.py'), PY_HARNESS);
      argv = [python, '-I', '-S', '-B', '-u', join(root, '.harness.py'), String(memBytes), String(cpu), String(fsize)];
      isolation.push('python-audit-hook');
    } else if (language === 'javascript') {
      writeFileSync(join(root, 'program.js'), code);
      const nodeArgs = ['--experimental-permission', `--allow-fs-read=${root}`, `--allow-fs-write=${root}`, '--no-warnings',
        `--max-old-space-size=${Math.max(16, Math.floor((opts.memoryMb ?? 1024) / 2))}`];
      if (!useNetns) {
        writeFileSync(join(root, '.net-block.cjs'), NODE_NET_BLOCK);
        nodeArgs.push('--require', join(root, '.net-block.cjs'));
        isolation.push('node-net-block');
      }
      argv = [process.execPath, ...nodeArgs, join(root, 'program.js')];
      if (c.prlimit) argv = ['prlimit', `--cpu=${cpu}`, `--data=${memBytes}`, `--fsize=${fsize}`, '--nofile=64', '--core=0', '--', ...argv];
      else isolation.splice(isolation.indexOf('rlimits'), 1);
      isolation.push('node-permission-model');
    } else {
      throw new KolmError(`sandbox: unsupported language '${language as string}' (python, javascript)`);
    }
    if (useNetns) {
      argv = [...useNetns, ...argv];
      isolation.push('network-namespace');
    } else if (language === 'python') isolation.push('python-socket-block');
    return await execute(argv, root, timeoutMs, opts.maxOutputBytes ?? 65536, isolation);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function execute(argv: string[], root: string, timeoutMs: number, maxOut: number, isolation: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: root,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: root, TMPDIR: root, LANG: 'C.UTF-8', PYTHONIOENCODING: 'utf-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < maxOut) out.push(b.subarray(0, maxOut - outLen));
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < maxOut) err.push(b.subarray(0, maxOut - errLen));
      errLen += b.length;
    });
    let timedOut = false;
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new KolmError(`sandbox: cannot start ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      kill();
      const cpuKilled = signal === 'SIGXCPU' || signal === 'SIGKILL';
      resolve({
        status: timedOut || (cpuKilled && !code) ? 'timeout' : code === 0 ? 'passed' : 'failed',
        exitCode: code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: Date.now() - start,
        isolation,
      });
    });
  });
}
