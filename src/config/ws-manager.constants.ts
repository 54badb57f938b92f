/** Injection token of the resolved {@link ResolvedWsManagerOptions}. */
export const WS_MANAGER_OPTIONS = Symbol('WS_MANAGER_OPTIONS');

/** Injection token of the {@link ManagerRegistry} in use. */
export const MANAGER_REGISTRY = Symbol('MANAGER_REGISTRY');

/** Injection token of the {@link IdentityResolver} in use. */
export const IDENTITY_RESOLVER = Symbol('IDENTITY_RESOLVER');

/** Name under which the scheduled sweep is registered with `SchedulerRegistry`. */
export const SWEEP_JOB_NAME = 'ws-manager-sweep';
