/** Injection token of the resolved admin options ({@link ResolvedAdminOptions}). */
export const WS_ADMIN_OPTIONS = Symbol('WS_ADMIN_OPTIONS');

/** Injection token of the host's guard instance, when `guard` was given. */
export const WS_ADMIN_HOST_GUARD = Symbol('WS_ADMIN_HOST_GUARD');
