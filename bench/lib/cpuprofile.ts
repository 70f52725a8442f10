/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and aggregates the samples of a time window: self
 * time by function and by file or package, and inclusive time by file or package.
 */
import { readFileSync } from 'node:fs';

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

export type Row = { name: string; ms: number; share: number };
export type ProfileSummary = {
  window_ms: number;
  sampled_ms: number;
  busy_ms: number;
  self_by_function: Row[];
  self_by_module: Row[];
  inclusive_by_module: Row[];
  /** Functions of our own code (src/), with everything they called. */
  inclusive_by_src_function: Row[];
  /** Self ms of every file or package; socket writes apart (see SOCKET_WRITES). */
  all_self_by_module: Record<string, number>;
};

/**
 * V8 samples on wall-clock time: a process that loses the CPU inside a write(2) (waking the peer
 * on loopback often hands it the core) keeps being charged to that write. On a loaded 2-core
 * machine these natives are mostly time spent descheduled, not CPU: they are counted apart.
 */
export const SOCKET_WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString']);
export const SOCKET_WRITES_ROW = '(socket writes: writev, writeBuffer…)';

const ROOT_URL = new URL('../../', import.meta.url).href;

/** node_modules/<package> (or @scope/package), src/… or bench/… files, node:… internals, V8's own entries. */
export function moduleOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url.startsWith('node:internal/') ? `node:internal/${url.split('/')[1]}` : url;
  const local = url.startsWith(ROOT_URL) ? url.slice(ROOT_URL.length) : url;
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(local);
  if (inModules) return inModules[1]!;
  return local;
}

function functionOf(frame: CallFrame): string {
  const module = moduleOf(frame);
  const local = frame.url.startsWith(ROOT_URL) ? frame.url.slice(ROOT_URL.length) : frame.url;
  const where = frame.url ? `${local.replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}` : module;
  return `${frame.functionName || '(anonymous)'} — ${where}`;
}

/**
 * `from`/`to`: the window in microseconds of CLOCK_MONOTONIC (process.hrtime.bigint() / 1000n),
 * the clock V8 stamps its samples with on Linux. Undefined: the whole profile.
 */
export function summariseProfile(path: string, from?: number, to?: number, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const start = from ?? profile.startTime;
  const end = to ?? profile.endTime;
  const self = new Map<string, number>();
  const selfModule = new Map<string, number>();
  const inclusiveModule = new Map<string, number>();
  const inclusiveSrc = new Map<string, number>();
  let sampled = 0;
  let idle = 0;
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i]!;
    if (time < start || time > end) continue;
    // A sample's weight: the time until the next sample (V8 charges the gap to this stack).
    const weight = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const leaf = nodes.get(profile.samples[i]!)!;
    sampled += weight;
    if (leaf.callFrame.functionName === '(idle)') {
      idle += weight;
      continue;
    }
    const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + weight);
    add(self, functionOf(leaf.callFrame));
    add(selfModule, leaf.callFrame.url === '' && SOCKET_WRITES.has(leaf.callFrame.functionName) ? SOCKET_WRITES_ROW : moduleOf(leaf.callFrame));
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const frame = nodes.get(id)!.callFrame;
      const module = moduleOf(frame);
      if (module.startsWith('src/')) {
        const name = functionOf(frame);
        if (!seen.has(name)) {
          seen.add(name);
          add(inclusiveSrc, name);
        }
      }
      if (module === '(root)' || seen.has(module)) continue;
      seen.add(module);
      add(inclusiveModule, module);
    }
  }
  const busy = sampled - idle;
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: Math.round((ms / busy) * 1000) / 10 }));
  return {
    window_ms: Math.round((end - start) / 1000),
    sampled_ms: Math.round(sampled),
    busy_ms: Math.round(busy),
    self_by_function: rows(self),
    self_by_module: rows(selfModule),
    inclusive_by_module: rows(inclusiveModule),
    inclusive_by_src_function: rows(inclusiveSrc),
    all_self_by_module: Object.fromEntries([...selfModule].map(([name, ms]) => [name, Math.round(ms * 10) / 10])),
  };
}
