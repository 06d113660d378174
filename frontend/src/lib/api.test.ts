import { afterEach, describe, expect, it, vi } from 'vitest';
import { stripeService } from '../services/stripe';
import { fakeApi, problem } from '../test/fakeApi';
import { ApiError, api, idempotent, unwrap } from './api';
import { isTransient, shouldRetryMutation, shouldRetryQuery } from './queryClient';

afterEach(() => {
  vi.unstubAllGlobals();
  stripeService.setAuth(null);
});

describe('the openapi-fetch client', () => {
  it("sends the session's token, and an idempotency key with every write", async () => {
    const fake = fakeApi({
      'GET /api/admin/audit/chain': { body: { verified: true } },
      'POST /api/admin/webhooks/evt_1/replay': { body: { id: 'evt_1' } },
    });
    vi.stubGlobal('fetch', fake.fetch);
    stripeService.setAuth({ token: 'tok', userId: 1, role: 'admin' });

    expect(await unwrap(api.GET('/api/admin/audit/chain'))).toEqual({ verified: true });
    await unwrap(api.POST('/api/admin/webhooks/{event_id}/replay', { params: { path: { event_id: 'evt_1' } } }));
    await unwrap(
      api.POST('/api/admin/webhooks/{event_id}/replay', {
        params: { path: { event_id: 'evt_1' } },
        headers: idempotent('same-key'),
      }),
    );
    const [read, write, again] = fake.calls;
    expect(read?.headers.get('Authorization')).toBe('Bearer tok');
    expect(read?.headers.get('Idempotency-Key')).toBeNull();
    expect(write?.headers.get('Idempotency-Key')).toMatch(/^[0-9a-f]{32}$/);
    expect(again?.headers.get('Idempotency-Key')).toBe('same-key');
  });

  it('throws the problem+json of a refusal, and a network problem when nothing answered', async () => {
    vi.stubGlobal('fetch', fakeApi({ 'GET /api/admin/audit/chain': problem(403, 'forbidden', 'Admins only.') }).fetch);
    const refused = await unwrap(api.GET('/api/admin/audit/chain')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).problem).toMatchObject({ status: 403, code: 'forbidden', detail: 'Admins only.' });
    expect(isTransient(refused)).toBe(false);

    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const unreachable = await unwrap(api.GET('/api/admin/audit/chain')).catch((error: unknown) => error);
    expect((unreachable as ApiError).problem.code).toBe('network_error');
    expect(isTransient(unreachable)).toBe(true);
  });
});

describe('retries', () => {
  const answer = (status: number) => new ApiError({ type: 'about:blank', title: 'x', status, code: 'x' });

  it('asks again twice after no answer, 429 or 5xx, never after another 4xx', () => {
    expect([0, 1, 2].map((failures) => shouldRetryQuery(failures, answer(503)))).toEqual([true, true, false]);
    expect(shouldRetryQuery(0, answer(429))).toBe(true);
    expect(shouldRetryQuery(0, answer(0))).toBe(true);
    expect(shouldRetryQuery(0, answer(404))).toBe(false);
    expect(shouldRetryQuery(0, new Error('a bug'))).toBe(false);
  });

  it('sends an action again once, only when no answer came', () => {
    expect(shouldRetryMutation(0, answer(0))).toBe(true);
    expect(shouldRetryMutation(1, answer(0))).toBe(false);
    expect(shouldRetryMutation(0, answer(503))).toBe(false);
  });
});
