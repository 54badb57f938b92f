import { readFileSync } from 'node:fs';

/** The CPUs this process may run on, as Linux lists them (`Cpus_allowed_list` of /proc/self/status, e.g. `0-1`); `undefined` elsewhere. */
export function cpusAllowedList(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1]?.trim();
  } catch {
    return undefined;
  }
}

/** The CPU numbers of such a list (`0-2,5` → 0, 1, 2, 5). */
export function parseCpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    if (part.trim() === '') return [];
    const [from, to = from] = part.trim().split('-').map(Number);
    if (from === undefined || to === undefined || !Number.isInteger(from) || !Number.isInteger(to)) return [];
    return Array.from({ length: to - from + 1 }, (_, k) => from + k);
  });
}
