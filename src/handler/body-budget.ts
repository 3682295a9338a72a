/** The budget of request-body bytes held before their signature is checked, shared by every request of one runtime. */

/** One request's share of a {@link BodyBudget}: taken chunk by chunk while the body is read, given back once. */
export interface BodyReservation {
  /** Takes `bytes` more; false (nothing taken) when that would pass the budget. */
  take(bytes: number): boolean;
  /** Gives back everything this reservation took; later calls do nothing. */
  release(): void;
}

/**
 * Bounds the bytes of request bodies held at once before they are authenticated: without OIDC the signature covers
 * the whole body, so it must be read first, and many concurrent unauthenticated bodies must not grow memory without
 * bound. A request whose body would pass the budget is refused (503) instead of read on.
 */
export class BodyBudget {
  private held = 0;

  constructor(readonly limit: number) {}

  /** Bytes held right now. */
  get inUse(): number {
    return this.held;
  }

  /** A new, empty reservation for one request. */
  reserve(): BodyReservation {
    let taken = 0;
    let released = false;
    return {
      take: (bytes) => {
        if (released || this.held + bytes > this.limit) return false;
        this.held += bytes;
        taken += bytes;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.held -= taken;
        taken = 0;
      },
    };
  }
}
