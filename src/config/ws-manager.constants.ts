/** Injection token of the resolved {@link ResolvedWsManagerOptions}. */
export const WS_MANAGER_OPTIONS = Symbol('WS_MANAGER_OPTIONS');

/** Injection token of the {@link ManagerRegistry} in use. */
export const MANAGER_REGISTRY = Symbol('MANAGER_REGISTRY');

/** Name under which the scheduled sweep is registered with `SchedulerRegistry`. */
export const SWEEP_JOB_NAME = 'ws-manager-sweep';
