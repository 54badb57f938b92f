/** Injection token of the resolved {@link ResolvedWsManagerOptions}. */
export const WS_MANAGER_OPTIONS = Symbol('WS_MANAGER_OPTIONS');

/** Injection token of the {@link ManagerRegistry} in use. */
export const MANAGER_REGISTRY = Symbol('MANAGER_REGISTRY');

/**
 * Prefix of the scheduled sweep's name in `SchedulerRegistry`: `ws-manager-sweep:<nodeId>` (a `#2`
 * suffix for a second module instance of the same node); `ScheduledSweepService.jobName` has it.
 */
export const SWEEP_JOB_NAME = 'ws-manager-sweep';

/**
 * Injection token of the options exactly as given to `forRoot` / `forRootAsync` (before defaults
 * and validation). Override this one in a testing module (`overrideProvider(WS_MANAGER_MODULE_OPTIONS)
 * .useValue({ maxManagersPerUser: 2 })`): the module validates and completes it into
 * {@link WS_MANAGER_OPTIONS}.
 */
export const WS_MANAGER_MODULE_OPTIONS = Symbol('WS_MANAGER_MODULE_OPTIONS');
