/**
 * A memory limit for one process, as a container runtime sets it: a cgroup of its own with the
 * kernel's memory controller (cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes` where the
 * memory controller is still on the v1 hierarchy), created as a child of our own cgroup, so
 * that whatever accounts for us still accounts for it. Past the limit, the kernel reclaims the
 * cgroup's page cache and then kills the process (the OOM killer), as it would in a 256 MB
 * container. `prlimit --as` is no substitute: it caps virtual address space, which V8 reserves
 * far beyond what it uses, and never counts resident memory.
 *
 * Needs root (or a delegated cgroup); where none is available, says why instead.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type MemoryCgroup = {
  /** What enforces the limit, for the report. */
  mechanism: string;
  dir: string;
  addProcess: (pid: number) => void;
  /** Highest memory charged to the cgroup (RSS and page cache), in bytes. */
  peakBytes: () => number | null;
  /** Processes the OOM killer killed in it. */
  oomKills: () => number | null;
  /** How often an allocation hit the limit (and the kernel had to reclaim). */
  limitHits: () => number | null;
  remove: () => void;
};

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};
const number = (text: string | undefined) => (text === undefined || !/^\d+\s*$/.test(text) ? null : Number(text));
const field = (text: string | undefined, name: string) => {
  const match = text === undefined ? null : new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : null;
};

/** A new cgroup named `name` under ours, limited to `limitBytes`; or why there cannot be one. */
export function createMemoryCgroup(name: string, limitBytes: number): MemoryCgroup | { unavailable: string } {
  const own = read('/proc/self/cgroup') ?? '';
  const v1 = /^\d+:memory:(.*)$/m.exec(own)?.[1];
  const v2 = /^0::(.*)$/m.exec(own)?.[1];
  try {
    if (v1 !== undefined && existsSync('/sys/fs/cgroup/memory')) {
      const dir = join('/sys/fs/cgroup/memory', v1, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
      // Charges made before the move (the first instants of the process) move with it.
      try {
        writeFileSync(join(dir, 'memory.move_charge_at_immigrate'), '3');
      } catch {
        // deprecated on recent kernels: only the first instants are then charged to the parent
      }
      return {
        mechanism: `cgroup v1 memory controller, memory.limit_in_bytes = ${limitBytes / 2 ** 20} MiB (no swap on the machine)`,
        dir,
        addProcess: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
        peakBytes: () => number(read(join(dir, 'memory.max_usage_in_bytes'))),
        oomKills: () => field(read(join(dir, 'memory.oom_control')), 'oom_kill'),
        limitHits: () => number(read(join(dir, 'memory.failcnt'))),
        remove: () => rmdirSync(dir),
      };
    }
    if (v2 !== undefined && (read('/sys/fs/cgroup/cgroup.controllers') ?? '').split(/\s+/).includes('memory')) {
      const parent = join('/sys/fs/cgroup', v2);
      if (!(read(join(parent, 'cgroup.subtree_control')) ?? '').includes('memory')) writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory');
      const dir = join(parent, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'memory.max'), String(limitBytes));
      try {
        writeFileSync(join(dir, 'memory.swap.max'), '0');
      } catch {
        // no swap accounting: nothing to turn off
      }
      return {
        mechanism: `cgroup v2, memory.max = ${limitBytes / 2 ** 20} MiB, memory.swap.max = 0`,
        dir,
        addProcess: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
        peakBytes: () => number(read(join(dir, 'memory.peak'))),
        oomKills: () => field(read(join(dir, 'memory.events')), 'oom_kill'),
        limitHits: () => field(read(join(dir, 'memory.events')), 'max'),
        remove: () => rmdirSync(dir),
      };
    }
    return { unavailable: 'no cgroup memory controller (neither v1 nor v2) is mounted here' };
  } catch (error) {
    return { unavailable: `cannot create a cgroup with a memory limit: ${(error as Error).message}` };
  }
}
