import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

/** Watches garbage-collection pauses, so a long event-loop block can be told apart from GC. */
export class GcWatch {
  private observer?: PerformanceObserver;
  totalMs = 0;
  maxMs = 0;
  majorCount = 0;

  start(): this {
    this.totalMs = 0;
    this.maxMs = 0;
    this.majorCount = 0;
    this.observer?.disconnect();
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.totalMs += entry.duration;
        this.maxMs = Math.max(this.maxMs, entry.duration);
        const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.majorCount++;
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
    return this;
  }

  stop(): { gcTotalMs: number; gcMaxMs: number; gcMajor: number } {
    this.observer?.disconnect();
    this.observer = undefined;
    return { gcTotalMs: this.totalMs, gcMaxMs: this.maxMs, gcMajor: this.majorCount };
  }
}
