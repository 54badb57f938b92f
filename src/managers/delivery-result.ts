/** What one instance did with a delivered message. */
export interface InstanceDelivery {
  /** The instance. */
  nodeId: string;
  /** The user's managers there that the message reached (written to a socket or buffered). */
  managers: number;
  /** Open sockets the frame was written to. */
  sockets: number;
  /**
   * Detached managers that buffered it: replayed in order when the client resumes within
   * `resumeWindowMs`, oldest dropped first past `resumeBuffer`.
   */
  buffered: number;
}

/** Outcome of `MessageDeliveryService.sendToUser` / `sendToContext`. */
export interface DeliveryResult {
  /** Open sockets the frame was written to, on every instance that answered. */
  sockets: number;
  /** Detached managers that buffered it, on every instance that answered. */
  buffered: number;
  /** Managers it reached (written or buffered). */
  managers: number;
  /** Instances where it reached at least one manager. */
  instances: number;
  /** Per instance that reached at least one manager (this instance included). */
  byInstance: InstanceDelivery[];
  /**
   * Instances that hold a target manager by the registry but did not confirm within the
   * timeout, or where nobody listens (gone): the message may or may not have arrived there.
   */
  unconfirmed: string[];
  /**
   * The registry could not say where the user's managers are (an outage): only this instance's
   * managers were tried.
   */
  registryUnavailable: boolean;
}

/** Per-call options of a delivery. */
export interface DeliveryOptions {
  /**
   * How long to wait for other instances to confirm. Delivery itself is not undone by a
   * timeout; the instance is reported in `unconfirmed`. @default registryTimeoutMs
   */
  timeoutMs?: number;
}
