import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, problem } from '../../test/fakeApi';
import { renderPage } from '../../test/render';
import { DeliveriesPage } from './DeliveriesPage';
import type { Delivery } from '../../lib/schemas';

const LIST = '/api/admin/webhook-endpoints/3/deliveries';
const FIRST: Delivery = {
  id: 41,
  endpoint_id: 3,
  message_id: 'msg_2Zx',
  type: 'credits.granted',
  status: 'pending',
  attempts: 1,
  next_attempt_at: '2026-12-01T10:05:00Z',
  last_status_code: 503,
  last_error: null,
  created_at: '2026-12-01T10:00:00Z',
  delivered_at: null,
};
const ENDPOINTS = { body: { data: [{ id: 3, url: 'https://platform.example/hooks', description: null, events: ['*'], created_at: '2026-12-01T00:00:00Z', previous_secret_until: null }] } };

function page(routes: Parameters<typeof fakeApi>[0], url = '/admin/endpoints/3') {
  const api = fakeApi({ 'GET /api/admin/webhook-endpoints': ENDPOINTS, ...routes });
  vi.stubGlobal('fetch', api.fetch);
  renderPage(<DeliveriesPage />, { url, path: '/admin/endpoints/:endpointId' });
  return api;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<DeliveriesPage>', () => {
  it("lists the endpoint's deliveries with their last answer", async () => {
    const api = page({ [`GET ${LIST}`]: { body: { data: [FIRST], has_more: false, next_cursor: null } } });
    expect(screen.getByText('Loading deliveries…')).toBeInTheDocument();
    const row = (await screen.findByTestId('delivery-table')).querySelector('[data-delivery-id="41"]');
    expect(row).toHaveTextContent('credits.granted');
    expect(row).toHaveTextContent('Pending');
    expect(row).toHaveTextContent('HTTP 503');
    expect(await screen.findByRole('heading', { level: 1 })).toHaveTextContent(
      'Deliveries to https://platform.example/hooks',
    );
    expect(api.sent('GET', LIST)[0]?.query.get('limit')).toBe('20');
  });

  it('retries one delivery and looks again', async () => {
    let now: Delivery = { ...FIRST, status: 'failed', next_attempt_at: null, attempts: 9 };
    const api = page({
      [`GET ${LIST}`]: () => ({ body: { data: [now], has_more: false, next_cursor: null } }),
      'POST /api/admin/webhook-deliveries/41/retry': () => {
        now = { ...now, status: 'delivered', attempts: 1, last_status_code: 200, delivered_at: '2026-12-01T11:00:00Z' };
        return { body: { ...now, status: 'pending', attempts: 0 } };
      },
    });
    const table = await screen.findByTestId('delivery-table');
    await userEvent.click(within(table).getByRole('button', { name: 'Retry delivery 41' }));
    await waitFor(() =>
      expect(screen.getByTestId('deliveries-said')).toHaveTextContent('Delivery #41 is queued to be sent again now.'),
    );
    await waitFor(() => expect(table.querySelector('[data-delivery-id="41"]')).toHaveAttribute('data-status', 'delivered'));
    const [retried] = api.sent('POST', '/api/admin/webhook-deliveries/41/retry');
    expect(retried?.headers.get('Idempotency-Key')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('filters by status and says when none has it', async () => {
    const api = page({ [`GET ${LIST}`]: { body: { data: [], has_more: false, next_cursor: null } } });
    expect(await screen.findByTestId('deliveries-empty')).toHaveTextContent('Nothing was sent to this endpoint yet.');
    await userEvent.selectOptions(screen.getByLabelText('Status'), 'failed');
    expect(await screen.findByText('No failed deliveries.')).toBeInTheDocument();
    expect(api.sent('GET', LIST).map((call) => call.query.get('status'))).toEqual([null, 'failed']);
  });

  it('shows the problem of an endpoint that is gone', async () => {
    page({ [`GET ${LIST}`]: problem(404, 'not_found', 'No such webhook endpoint.') });
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The deliveries could not be loaded: No such webhook endpoint.',
    );
  });

  it('refuses an endpoint id that is not one, without asking', async () => {
    const api = page({}, '/admin/endpoints/abc');
    expect(screen.getByRole('alert')).toHaveTextContent('There is no endpoint “abc”.');
    expect(api.sent('GET', LIST)).toHaveLength(0);
  });
});
