/**
 * CPU time of this process split by thread, from Linux's `/proc/self/task/<tid>/stat`: the main
 * thread (JavaScript, the event loop, the system calls it makes) against every other thread (V8's
 * background GC marking and compilation, libuv's pool). `process.cpuUsage()` only gives the sum.
 * `undefined` where there is no `/proc` (figures then stay absent, nothing fails).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** `/proc` reports times in USER_HZ ticks, 100 per second on Linux whatever the kernel's HZ. */
const US_PER_TICK = 10_000;

export interface ThreadCpu {
  mainUs: number;
  otherUs: number;
}

function ticksOf(tid: string): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3: utime is field 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

export function threadCpu(): ThreadCpu | undefined {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const main = String(process.pid);
  let mainUs = 0;
  let otherUs = 0;
  for (const tid of tids) {
    let ticks: number;
    try {
      ticks = ticksOf(tid);
    } catch {
      continue; // the thread ended meanwhile
    }
    if (tid === main) mainUs += ticks * US_PER_TICK;
    else otherUs += ticks * US_PER_TICK;
  }
  return { mainUs, otherUs };
}

/** `now - since` per part (threads that ended meanwhile take their time with them: a lower bound). */
export function threadCpuSince(since: ThreadCpu | undefined): ThreadCpu | undefined {
  const now = threadCpu();
  if (!now || !since) return undefined;
  return { mainUs: now.mainUs - since.mainUs, otherUs: Math.max(0, now.otherUs - since.otherUs) };
}
