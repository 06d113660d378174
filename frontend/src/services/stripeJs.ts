/**
 * Stripe.js for Elements, from where the service says (`GET /api/stripe/config`).
 *
 * With Stripe's own URL, `@stripe/stripe-js` loads the Stripe.js version it was built for.
 * Any other URL (offline: the Stripe sandbox's stand-in) is injected as a script first;
 * `loadStripe` then finds `window.Stripe` and builds the instance from it, so both paths give
 * the same `Stripe` object to `<Elements>`.
 */
import type { Stripe } from '@stripe/stripe-js';
import { loadStripe } from '@stripe/stripe-js/pure';
import { type StripeService, stripeService } from './stripe';

const STRIPE_ORIGIN = 'https://js.stripe.com';

export class StripeUnavailable extends Error {
  override name = 'StripeUnavailable';
}

/** True when the URL is Stripe's own, which `@stripe/stripe-js` loads by itself. */
export function isStripesOwn(url: string): boolean {
  return url.startsWith(`${STRIPE_ORIGIN}/`);
}

function injectScript(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if ('Stripe' in window) {
      resolve();
      return;
    }
    const script = document.createElement('script');
    script.src = url;
    script.async = true;
    script.addEventListener('load', () => resolve());
    script.addEventListener('error', () =>
      reject(new StripeUnavailable(`Stripe.js could not be loaded from ${url}.`)),
    );
    document.head.appendChild(script);
  });
}

async function load(service: StripeService): Promise<Stripe> {
  const config = await service.getConfig();
  if (!config.success) {
    throw new StripeUnavailable(config.error.detail ?? config.error.title);
  }
  const { publishable_key: key, stripe_js_url: url } = config.data;
  if (!key) throw new StripeUnavailable('Card payments are not configured on this service.');
  if (!isStripesOwn(url)) await injectScript(url);
  const stripe = await loadStripe(key);
  if (!stripe) throw new StripeUnavailable('Stripe.js is not available in this browser.');
  return stripe;
}

let loading: Promise<Stripe> | null = null;

/** The page's Stripe instance, loaded once; a failed load is tried again on the next call. */
export function loadStripeFromConfig(service: StripeService = stripeService): Promise<Stripe> {
  if (!loading) {
    loading = load(service);
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}
