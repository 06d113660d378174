/**
 * What an endpoint can subscribe to: the service's `billing.outbound.events.EVENT_TYPES`
 * (docs/webhooks.md). A form needs them at run time, so they are listed here; the
 * compiler holds the list to the OpenAPI document's `webhooks` (one per event type), so
 * a type the service adds or drops fails `tsc` until it is added or dropped here too.
 */
import type { webhooks } from '../../../types/stripe';

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
] as const satisfies readonly (keyof webhooks)[];

type Unlisted = Exclude<keyof webhooks, (typeof EVENT_TYPES)[number]>;
// Fails to compile while a documented event type is missing from the list above.
export const EVERY_TYPE_LISTED: [Unlisted] extends [never] ? true : never = true;

/** An endpoint's subscriptions in words. */
export function describeEvents(events: string[]): string {
  return events.includes(EVERY_EVENT) ? 'Every event' : events.join(', ');
}
