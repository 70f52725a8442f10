/**
 * CPU time and memory of processes, read from /proc (Linux). Times are in seconds.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: getconf CLK_TCK is 100 on every Linux we run on

type Stat = { ppid: number; utime: number; stime: number; cutime: number; cstime: number };

/** Fields of /proc/<pid>/stat; the command name (field 2) may hold spaces, so split after its ')'. */
function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone, or not ours to read
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]); // field n of proc(5), counting from 1
  return { ppid: field(4), utime: field(14), stime: field(15), cutime: field(16), cstime: field(17) };
}

/** User + system CPU seconds of one process (all its threads). */
export function processCpuSeconds(pid: number): number {
  const stat = readStat(pid);
  if (!stat) throw new Error(`cannot read /proc/${pid}/stat`);
  return (stat.utime + stat.stime) / TICKS_PER_SECOND;
}

/**
 * CPU seconds of a PostgreSQL cluster: the postmaster, every live child (backends, WAL writer,
 * checkpointer, autovacuum…) and, through the postmaster's cutime/cstime, every child that has
 * already exited — so backends that come and go between two readings are still counted.
 */
export function clusterCpuSeconds(postmasterPid: number): number {
  const postmaster = readStat(postmasterPid);
  if (!postmaster) throw new Error(`cannot read /proc/${postmasterPid}/stat`);
  let ticks = postmaster.utime + postmaster.stime + postmaster.cutime + postmaster.cstime;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.ppid === postmasterPid) ticks += stat.utime + stat.stime;
  }
  return ticks / TICKS_PER_SECOND;
}

export function parentOf(pid: number): number | undefined {
  return readStat(pid)?.ppid;
}

/** Peak resident set size (VmHWM) in bytes. */
export function peakRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

/** Resets VmHWM to the current RSS (clear_refs 5), so the next reading is the peak from now on. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: cpuinfo.match(/^processor\s*:/gm)?.length ?? 0,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memory_gib: Math.round((Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024 / 1024) * 10) / 10,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  };
}

/** Current resident set size (VmRSS) in bytes. */
export function rssBytes(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib ?? 0) * 1024;
}
