/**
 * What an endpoint can subscribe to: the service's `billing.outbound.events.EVENT_TYPES`
 * (docs/webhooks.md). The OpenAPI document types them as strings only, so they are listed
 * here; the service refuses any it does not know.
 */
export const EVERY_EVENT = '*';

export const EVENT_TYPES = [
  'credits.granted',
  'credits.low',
  'credits.depleted',
  'credits.expired',
  'credits.clawed_back',
  'hold.expired',
  'subscription.created',
  'subscription.updated',
  'subscription.canceled',
  'payment.succeeded',
  'payment.failed',
  'topup.succeeded',
  'topup.failed',
  'topup.limit_reached',
] as const;

/** An endpoint's subscriptions in words. */
export function describeEvents(events: string[]): string {
  return events.includes(EVERY_EVENT) ? 'Every event' : events.join(', ');
}
