import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Balance, Settings, Transaction, UsageDay } from '../lib/schemas';
import { formatShortDate } from '../lib/format';
import { fakeApi, problem } from '../test/fakeApi';
import { renderPage } from '../test/render';
import { CreditsPage } from './CreditsPage';

const SOON = '2026-12-24T18:00:00Z';
const LATER = '2027-01-31T00:00:00Z';
const BASE = '/api/financial/credits/7';
const BALANCE: Balance = {
  user_id: 7,
  balance: 1200,
  held: 300,
  expiring: [
    { amount: 500, expires_at: SOON },
    { amount: 1, expires_at: LATER },
  ],
  currency: 'credits',
  updated_at: '2026-12-01T00:00:00Z',
};
const NO_SETTINGS: Settings = { user_id: 7, low_balance_threshold: null, auto_topup: null };
const EMPTY_PAGE = { body: { data: [], has_more: false, next_cursor: null } };
const QUIET: UsageDay[] = [{ day: '2026-12-01', spent: 0, granted: 0 }];

function item(id: number, amount: number, reference: string | null = null): Transaction {
  return {
    id,
    kind: amount > 0 ? 'purchase' : 'spend',
    amount,
    balance_after: 1000 + amount,
    description: null,
    reference,
    metadata: null,
    expires_at: null,
    created_at: '2026-12-01T10:00:00Z',
  };
}

type Routes = Parameters<typeof fakeApi>[0];

function page(routes: Routes = {}, awaiting: string | null = null) {
  const api = fakeApi({
    [`GET ${BASE}`]: { body: BALANCE },
    [`GET ${BASE}/transactions`]: EMPTY_PAGE,
    [`GET ${BASE}/settings`]: { body: NO_SETTINGS },
    [`GET ${BASE}/usage`]: { body: { user_id: 7, range: { from: '2026-12-01', to: '2026-12-01' }, days: QUIET } },
    ...routes,
  });
  vi.stubGlobal('fetch', api.fetch);
  renderPage(<CreditsPage userId={7} awaiting={awaiting} />, { url: '/credits' });
  return api;
}

const panel = (name: string) => screen.getByRole('region', { name });

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<CreditsPage>', () => {
  it('shows the balance, what holds reserve, and what expires next in the reader’s words', async () => {
    page();
    expect(within(panel('Balance')).getByText('Loading your balance…')).toBeInTheDocument();
    expect(await screen.findByTestId('credit-held')).toHaveTextContent('300 credits held');
    expect(screen.getByTestId('credit-balance')).toHaveTextContent('1,200 credits');
    const expiring = within(screen.getByTestId('credit-expiring')).getAllByRole('listitem');
    expect(expiring.map((entry) => entry.textContent)).toEqual([
      `500 credits expire on ${formatShortDate(SOON)}`,
      `1 credit expires on ${formatShortDate(LATER)}`,
    ]);
  });

  it('says when nothing expires, nothing happened lately and there is no history', async () => {
    page({ [`GET ${BASE}`]: { body: { ...BALANCE, held: 0, expiring: [] } } });
    expect(await screen.findByTestId('credit-expiring-none')).toHaveTextContent('No credits are set to expire.');
    expect(await screen.findByTestId('credit-history-empty')).toHaveTextContent('No transactions yet.');
    expect(await screen.findByTestId('usage-empty')).toHaveTextContent('No credits were spent or granted in the last 30 days.');
  });

  it('shows each panel’s error on its own, and tries again on demand', async () => {
    let calls = 0;
    page({
      [`GET ${BASE}`]: () => (++calls === 1 ? problem(503, 'service_unavailable', 'Busy.') : { body: BALANCE }),
      [`GET ${BASE}/transactions`]: problem(500, 'internal_error', 'Boom.'),
    });
    const balance = panel('Balance');
    expect(await within(balance).findByRole('alert')).toHaveTextContent(
      'Your balance could not be loaded: The billing service is busy or down for a moment.',
    );
    expect(await within(panel('History')).findByRole('alert')).toHaveTextContent('Your history could not be loaded');
    await userEvent.click(within(balance).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('credit-balance')).toHaveTextContent('1,200 credits');
  });

  it('charts the last 30 days, as a table too, asking for that range only', async () => {
    const days: UsageDay[] = [
      { day: '2026-11-30', spent: 40, granted: 0 },
      { day: '2026-12-01', spent: 10, granted: 500 },
    ];
    const api = page({ [`GET ${BASE}/usage`]: { body: { user_id: 7, range: { from: '2026-11-30', to: '2026-12-01' }, days } } });
    const chart = await screen.findByTestId('usage-chart', {}, { timeout: 5000 });
    expect(within(chart).getByRole('img')).toHaveAccessibleName(/50 credits spent, 500 credits granted/);
    expect(within(chart).getByRole('row', { name: 'Dec 1 10 500' })).toBeInTheDocument();
    const [asked] = api.sent('GET', `${BASE}/usage`);
    const from = asked?.query.get('from') ?? '';
    const to = asked?.query.get('to') ?? '';
    expect((Date.parse(to) - Date.parse(from)) / 86_400_000).toBe(29);
  });

  it('pages the history 20 at a time by its cursor', async () => {
    const api = page({
      [`GET ${BASE}/transactions`]: (request) =>
        request.query.get('cursor') === 'c2'
          ? { body: { data: [item(1, -40)], has_more: false, next_cursor: null } }
          : { body: { data: [item(2, 500)], has_more: true, next_cursor: 'c2' } },
    });
    expect(await screen.findByTestId('credit-history')).toHaveTextContent('+500');
    await userEvent.click(screen.getByRole('button', { name: 'Show older' }));
    expect(await screen.findByText('−40')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Show older' })).not.toBeInTheDocument();
    const sent = api.sent('GET', `${BASE}/transactions`);
    expect(sent.map((call) => [call.query.get('limit'), call.query.get('cursor')])).toEqual([
      ['20', null],
      ['20', 'c2'],
    ]);
  });

  it('after Checkout, looks again until the payment’s credits are in the history', async () => {
    let calls = 0;
    page({
      [`GET ${BASE}/transactions`]: () =>
        ++calls < 2 ? EMPTY_PAGE : { body: { data: [item(3, 500, 'cs_1')], has_more: false, next_cursor: null } },
    }, 'cs_1');
    expect(await screen.findByText(/Waiting for Stripe to confirm it/)).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('credit-history')).toHaveTextContent('+500'), { timeout: 4000 });
    await waitFor(() => expect(screen.queryByText(/Waiting for Stripe/)).not.toBeInTheDocument());
  });
});

describe('auto top-up settings', () => {
  const SAVED: Settings = {
    user_id: 7,
    low_balance_threshold: 100,
    auto_topup: {
      enabled: true,
      threshold: 200,
      amount: 2500,
      currency: 'usd',
      monthly_limit: 10000,
      paused_at: null,
      pause_reason: null,
    },
  };

  it('saves the alert and auto top-up whole, in credits and minor units', async () => {
    const api = page({ [`PUT ${BASE}/settings`]: { body: SAVED } });
    const form = await screen.findByRole('form', { name: 'Auto top-up settings' });
    await userEvent.type(within(form).getByLabelText(/Tell me when my balance falls below/), '100');
    await userEvent.click(within(form).getByRole('checkbox', { name: /Top up automatically/ }));
    await userEvent.type(within(form).getByLabelText('When my balance falls below (credits)'), '200');
    await userEvent.type(within(form).getByLabelText('Top up by (USD)'), '25');
    await userEvent.type(within(form).getByLabelText('At most per month (USD)'), '100.00');
    await userEvent.click(within(form).getByRole('button', { name: 'Save settings' }));

    expect(await within(form).findByTestId('settings-said')).toHaveTextContent('Settings saved: auto top-up is on.');
    const [put] = api.sent('PUT', `${BASE}/settings`);
    expect(put?.body).toEqual({
      low_balance_threshold: 100,
      auto_topup: { enabled: true, threshold: 200, amount: 2500, currency: 'usd', monthly_limit: 10000 },
    });
    expect(put?.headers.get('Idempotency-Key')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('checks the form before asking, field by field', async () => {
    const api = page();
    const form = await screen.findByRole('form', { name: 'Auto top-up settings' });
    await userEvent.click(within(form).getByRole('checkbox', { name: /Top up automatically/ }));
    await userEvent.type(within(form).getByLabelText('Top up by (USD)'), '50');
    await userEvent.type(within(form).getByLabelText('At most per month (USD)'), '20');
    await userEvent.click(within(form).getByRole('button', { name: 'Save settings' }));
    const threshold = within(form).getByLabelText('When my balance falls below (credits)');
    expect(threshold).toHaveAttribute('aria-invalid', 'true');
    expect(threshold).toHaveAccessibleDescription('Enter whole credits from 1.');
    expect(within(form).getByLabelText('At most per month (USD)')).toHaveAccessibleDescription(
      'The monthly limit must allow at least one top-up of $50.00.',
    );
    await waitFor(() => expect(threshold).toHaveFocus());
    expect(api.sent('PUT', `${BASE}/settings`)).toHaveLength(0);
  });

  it('shows the service’s 422 next to the form, with what to do about it', async () => {
    page({
      [`GET ${BASE}/settings`]: { body: SAVED },
      [`PUT ${BASE}/settings`]: problem(422, 'payment_method_required', 'Save a card first: auto top-up charges it.'),
    });
    const form = await screen.findByRole('form', { name: 'Auto top-up settings' });
    expect(within(form).getByLabelText('Top up by (USD)')).toHaveValue('25.00');
    await userEvent.click(within(form).getByRole('button', { name: 'Save settings' }));
    const shown = await within(form).findByTestId('settings-problem');
    expect(within(shown).getByRole('alert')).toHaveTextContent(
      'The settings were not saved: Save a card first: auto top-up charges it.',
    );
    expect(shown).toHaveTextContent('“Save this card for auto top-up”');
  });

  it('lists the fields a validation error names', async () => {
    const invalid = problem(422, 'validation_error', 'The request is not valid.');
    (invalid.body as Record<string, unknown>).errors = [
      { loc: ['body', 'auto_topup', 'amount'], msg: 'Input should be less than 1000000', type: 'less_than' },
    ];
    page({ [`GET ${BASE}/settings`]: { body: SAVED }, [`PUT ${BASE}/settings`]: invalid });
    const form = await screen.findByRole('form', { name: 'Auto top-up settings' });
    await userEvent.click(within(form).getByRole('button', { name: 'Save settings' }));
    expect(await within(form).findByText('auto_topup.amount: Input should be less than 1000000')).toBeInTheDocument();
  });

  it('says a paused auto top-up is paused, and why', async () => {
    const paused = { ...SAVED, auto_topup: { ...SAVED.auto_topup!, paused_at: '2026-12-02T08:00:00Z', pause_reason: 'card_declined' } };
    page({ [`GET ${BASE}/settings`]: { body: paused } });
    expect(await screen.findByTestId('auto-topup-paused')).toHaveTextContent(
      /Auto top-up is paused since .*: card_declined\. Saving the settings resumes it\./,
    );
  });

  it('shows when the settings cannot be loaded', async () => {
    page({ [`GET ${BASE}/settings`]: problem(403, 'forbidden', 'Not yours.') });
    expect(await within(panel('Low balance and auto top-up')).findByRole('alert')).toHaveTextContent(
      'Your settings could not be loaded: You are not allowed to do this',
    );
  });
});
