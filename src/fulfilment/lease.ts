/** @module fulfilment/lease — how long a claim on a fulfilment holds before another runner may take it over (the hook crashed or the request died). */
export const FULFILMENT_LEASE_MS = 5 * 60_000;
