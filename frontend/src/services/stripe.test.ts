import { describe, expect, it } from 'vitest';
import { fakeApi, problem } from '../test/fakeApi';
import { StripeService } from './stripe';

describe('stripeService', () => {
  it('creates a checkout session as the docs/frontend.md example uses it', async () => {
    const api = fakeApi({
      'POST /api/stripe/create-checkout-session': {
        body: { id: 'cs_1', url: 'https://checkout.stripe.com/c/pay/cs_1' },
      },
    });
    const result = await api.service.createCheckoutSession({
      user_id: 123,
      price_id: 'price_1',
      success_url: 'https://app.example.com/ok',
      cancel_url: 'https://app.example.com/no',
      mode: 'subscription',
    });
    expect(result.success).toBe(true);
    if (!result.success) throw new Error('expected success');
    expect(result.data.url).toBe('https://checkout.stripe.com/c/pay/cs_1');
    const [sent] = api.calls;
    expect(sent?.body).toEqual({
      user_id: 123,
      price_id: 'price_1',
      success_url: 'https://app.example.com/ok',
      cancel_url: 'https://app.example.com/no',
      mode: 'subscription',
    });
    expect(sent?.headers.get('Content-Type')).toBe('application/json');
    expect(sent?.headers.get('Idempotency-Key')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('resolves an HTTP error to the problem body instead of throwing', async () => {
    const api = fakeApi({
      'GET /api/financial/credits/5': problem(403, 'forbidden', 'Not yours.'),
    });
    const result = await api.service.getCreditBalance(5);
    expect(result).toEqual({
      success: false,
      error: { type: 'about:blank', title: 'forbidden', status: 403, code: 'forbidden', detail: 'Not yours.' },
    });
  });

  it('turns a body that is not a problem, and a network failure, into problems too', async () => {
    const html = new StripeService({
      fetch: async () => new Response('<h1>Bad gateway</h1>', { status: 502, statusText: 'Bad Gateway' }),
    });
    const answer = await html.getProducts();
    expect(answer.success).toBe(false);
    if (answer.success) return;
    expect(answer.error).toMatchObject({ status: 502, code: 'http_502', title: 'Bad Gateway' });

    const offline = new StripeService({
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    const unreachable = await offline.getConfig();
    expect(unreachable).toMatchObject({ success: false, error: { code: 'network_error', status: 0 } });
  });

  it('sends the bearer token, the caller key or a fresh one, and escapes path and query', async () => {
    const api = fakeApi({
      'DELETE /api/stripe/subscriptions/sub_1': { body: { id: 'sub_1' } },
      'GET /api/stripe/customer-portal': { body: { url: 'https://portal' } },
      'POST /api/admin/webhooks/evt%2F1/replay': { body: {} },
    });
    api.service.setAuth({ token: 'tok', userId: 9, role: 'user' });
    expect(api.service.userId).toBe(9);
    await api.service.cancelSubscription('sub_1', true, { idempotencyKey: 'cancel-once' });
    await api.service.getCustomerPortal({ user_id: 9, return_url: 'http://127.0.0.1/#/x?y=1' });
    await api.service.replayWebhookEvent('evt/1');
    const [cancel, portal, replay] = api.calls;
    expect(cancel?.headers.get('Authorization')).toBe('Bearer tok');
    expect(cancel?.headers.get('Idempotency-Key')).toBe('cancel-once');
    expect(cancel?.query.get('at_period_end')).toBe('true');
    expect(portal?.headers.has('Idempotency-Key')).toBe(false);
    expect(portal?.query.get('return_url')).toBe('http://127.0.0.1/#/x?y=1');
    expect(replay?.path).toBe('/api/admin/webhooks/evt%2F1/replay');
    expect(replay?.headers.get('Idempotency-Key')).not.toBe(cancel?.headers.get('Idempotency-Key'));
  });

  it('leaves out query parameters that are not set', async () => {
    const api = fakeApi({ 'GET /api/financial/admin/dashboard': { body: {} } });
    await api.service.getAdminDashboard({});
    await api.service.getAdminDashboard({ from: '2026-11-01', to: '2026-11-30' });
    expect(api.calls[0]?.query.toString()).toBe('');
    expect(api.calls[1]?.query.toString()).toBe('from=2026-11-01&to=2026-11-30');
  });
});
