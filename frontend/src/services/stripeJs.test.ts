import { describe, expect, it } from 'vitest';
import { fakeApi, problem } from '../test/fakeApi';
import { isStripesOwn, loadStripeFromConfig, StripeUnavailable } from './stripeJs';

describe('loading Stripe.js', () => {
  it("lets @stripe/stripe-js load Stripe's own script, and injects any other", () => {
    expect(isStripesOwn('https://js.stripe.com/v3/')).toBe(true);
    expect(isStripesOwn('http://127.0.0.1:8420/js.stripe.com/v3/')).toBe(false);
    expect(isStripesOwn('https://js.stripe.com.evil.example/v3/')).toBe(false);
  });

  it('fails with the reason when the service cannot give its configuration', async () => {
    const down = fakeApi({ 'GET /api/stripe/config': problem(503, 'service_unavailable', 'Down.') });
    await expect(loadStripeFromConfig(down.service)).rejects.toThrow(new StripeUnavailable('Down.'));
    // A failed load is not kept: the next call asks again.
    const unconfigured = fakeApi({
      'GET /api/stripe/config': { body: { publishable_key: null, stripe_js_url: 'https://js.stripe.com/v3/' } },
    });
    await expect(loadStripeFromConfig(unconfigured.service)).rejects.toThrow('not configured');
    expect(unconfigured.calls).toHaveLength(1);
  });
});
