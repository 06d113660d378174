import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Grant } from '../../lib/schemas';
import { formatShortDate } from '../../lib/format';
import { fakeApi, problem, type Recorded } from '../../test/fakeApi';
import { renderPage } from '../../test/render';
import { UserPage } from './UserPage';

const CREDITS = '/api/financial/credits/7';
const SOON = '2027-01-04T23:59:59Z';
const PROFILE = {
  user_id: 7,
  email: 'ada@example.com',
  name: 'Ada',
  stripe_customer_id: 'cus_ada',
  personal_data_erased: false,
  balance: 1500,
  held: 100,
  expiring: [{ amount: 500, expires_at: SOON }],
  low_balance_threshold: null,
  updated_at: '2026-12-01T10:00:00Z',
};
const GRANT: Grant = {
  id: 5,
  user_id: 7,
  source: 'promotion',
  amount: 500,
  remaining: 500,
  priority: 10,
  effective_at: '2026-12-01T10:00:00Z',
  expires_at: SOON,
  status: 'active',
  reference: null,
  created_at: '2026-12-01T10:00:00Z',
};
const EMPTY = { body: { data: [], has_more: false, next_cursor: null } };
const PAYMENT = {
  id: 1,
  stripe_id: 'pi_1',
  kind: 'topup',
  status: 'succeeded',
  amount: 2500,
  currency: 'usd',
  credits: 2500,
  amount_refunded: 0,
  created_at: '2026-12-01T10:00:00Z',
  invoice_url: null,
  receipt_url: 'https://pay.stripe.com/receipts/rcpt_1',
};

function page(routes: Parameters<typeof fakeApi>[0] = {}, url = '/admin/users/7') {
  const api = fakeApi({
    'GET /api/admin/users/7': { body: PROFILE },
    [`GET ${CREDITS}/grants`]: { body: { data: [GRANT] } },
    [`GET ${CREDITS}/holds`]: EMPTY,
    [`GET ${CREDITS}/transactions`]: EMPTY,
    [`GET ${CREDITS}/settings`]: { body: { user_id: 7, low_balance_threshold: null, auto_topup: null } },
    'GET /api/stripe/subscriptions/7': { body: [] },
    'GET /api/stripe/invoices/7': EMPTY,
    'GET /api/admin/audit': EMPTY,
    ...routes,
  });
  vi.stubGlobal('fetch', api.fetch);
  renderPage(<UserPage />, { url, path: '/admin/users/:userId' });
  return api;
}

const region = (name: string) => screen.getByRole('region', { name });
const key = (call: Recorded | undefined) => call?.headers.get('Idempotency-Key');

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<UserPage>', () => {
  it('shows who the user is, their wallet, and each panel’s data or emptiness', async () => {
    const api = page({ 'GET /api/stripe/invoices/7': { body: { data: [PAYMENT], has_more: false, next_cursor: null } } });
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('User 7');
    expect(within(region('Profile')).getByRole('status')).toHaveTextContent('Loading the profile…');
    const profile = await screen.findByTestId('user-profile');
    expect(profile).toHaveTextContent('ada@example.com');
    expect(screen.getByTestId('user-balance')).toHaveTextContent('1,500 credits');
    expect(screen.getByTestId('user-held')).toHaveTextContent('100 credits');
    expect(screen.getByTestId('user-erased-flag')).toHaveTextContent('No');
    expect(within(profile).getByRole('link', { name: /cus_ada in Stripe’s dashboard/ })).toHaveAttribute(
      'href',
      'https://dashboard.stripe.com/customers/cus_ada',
    );
    expect(screen.getByTestId('user-expiring')).toHaveTextContent(`500 credits expire on ${formatShortDate(SOON)}`);

    const grants = await screen.findByTestId('grants-table');
    expect(grants).toHaveTextContent('Promotion');
    expect(grants).toHaveTextContent('500 of 500');
    expect(api.sent('GET', `${CREDITS}/grants`)[0]?.query.get('status')).toBe('active');
    expect(api.sent('GET', `${CREDITS}/holds`)[0]?.query.get('status')).toBe('active');
    expect(api.sent('GET', '/api/admin/audit')[0]?.query.get('user_id')).toBe('7');

    const payments = await screen.findByTestId('payments');
    expect(within(payments).getByRole('link', { name: /^Stripe/ })).toHaveAttribute(
      'href',
      'https://dashboard.stripe.com/payments/pi_1',
    );
    expect(within(payments).getByRole('link', { name: /^Receipt/ })).toHaveAttribute('href', PAYMENT.receipt_url);
    expect(await screen.findByTestId('user-holds-empty')).toHaveTextContent('No active holds.');
    expect(await screen.findByTestId('user-transactions-empty')).toBeInTheDocument();
    expect(await screen.findByTestId('user-subscriptions-empty')).toBeInTheDocument();
    expect(await screen.findByTestId('user-audit-empty')).toBeInTheDocument();
    expect(await screen.findByTestId('user-settings-facts')).toHaveTextContent('Not set up');
  });

  it('says so when the user is unknown, or the id is no id', async () => {
    page({ 'GET /api/admin/users/7': problem(404, 'not_found', 'No user 7.') });
    expect(await screen.findByTestId('user-unknown')).toHaveTextContent('No user 7 has a wallet or a Stripe customer here.');
  });

  it('refuses an id that is not one', () => {
    page({}, '/admin/users/abc');
    expect(screen.getByRole('alert')).toHaveTextContent('“abc” is not a user id.');
  });

  it('flags erased personal data', async () => {
    page({ 'GET /api/admin/users/7': { body: { ...PROFILE, email: null, name: null, personal_data_erased: true } } });
    expect(await screen.findByTestId('user-erased')).toHaveTextContent('Personal data erased.');
    expect(screen.getByTestId('user-erased-flag')).toHaveTextContent('Yes');
  });

  it('shows a panel’s error in that panel', async () => {
    page({ [`GET ${CREDITS}/transactions`]: problem(500, 'internal_error', 'Boom.') });
    expect(await within(region('Transactions')).findByRole('alert')).toHaveTextContent(
      'The transactions could not be loaded: Something went wrong on our side.',
    );
    expect(await screen.findByTestId('grants-table')).toBeInTheDocument();
  });

  it('filters the grants by status', async () => {
    const api = page({
      [`GET ${CREDITS}/grants`]: (request) =>
        request.query.get('status') === 'active' ? { body: { data: [GRANT] } } : { body: { data: [] } },
    });
    await screen.findByTestId('grants-table');
    await userEvent.selectOptions(within(region('Grants')).getByLabelText('Status'), 'expired');
    expect(await screen.findByTestId('grants-empty')).toHaveTextContent('No expired grants.');
    await userEvent.selectOptions(within(region('Grants')).getByLabelText('Status'), 'all');
    expect(await screen.findByText('No grants yet.')).toBeInTheDocument();
    expect(api.sent('GET', `${CREDITS}/grants`).map((call) => call.query.get('status'))).toEqual(['active', 'expired', null]);
  });
});

describe('granting credits', () => {
  async function fillGrant() {
    const form = await screen.findByRole('form', { name: 'Grant credits' });
    await userEvent.type(within(form).getByLabelText('Credits'), '500');
    await userEvent.type(within(form).getByLabelText('Reason'), 'Sorry for the outage');
    await userEvent.type(within(form).getByLabelText('Expires at the end of'), '2099-01-04');
    await userEvent.click(within(form).getByRole('checkbox', { name: /Promotional credits/ }));
    await userEvent.click(within(form).getByRole('button', { name: 'Grant credits…' }));
    return form;
  }

  it('asks first, sends one idempotency key across a retry, then refreshes the user', async () => {
    let posts = 0;
    let balance = 1500;
    const api = page({
      'GET /api/admin/users/7': () => ({ body: { ...PROFILE, balance } }),
      [`POST ${CREDITS}/add`]: (request) => {
        posts += 1;
        if (posts === 1) throw new TypeError('Failed to fetch'); // the answer is lost
        balance = 2000;
        const grant = { ...GRANT, id: 9, expires_at: (request.body as { expires_at: string }).expires_at };
        return { body: { transaction_id: 3, user_id: 7, amount: 500, balance, created_at: GRANT.created_at, grant } };
      },
    });
    await screen.findByTestId('user-balance');
    await fillGrant();
    const dialog = screen.getByRole('alertdialog', { name: 'Grant 500 credits to user 7?' });
    expect(within(dialog).getByTestId('grant-summary')).toHaveTextContent('Sorry for the outage');
    expect(within(dialog).getByTestId('grant-summary')).toHaveTextContent('Promotion');
    expect(within(dialog).getByTestId('grant-summary')).toHaveTextContent('Priority10');
    expect(api.sent('POST', `${CREDITS}/add`)).toHaveLength(0);

    await userEvent.click(within(dialog).getByRole('button', { name: 'Grant credits' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'The credits were not granted: The billing service could not be reached.',
    );
    await userEvent.click(within(dialog).getByRole('button', { name: 'Grant credits' }));
    await waitFor(() => expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument());

    const [first, retry] = api.sent('POST', `${CREDITS}/add`);
    expect(key(first)).toMatch(/^[0-9a-f]{32}$/);
    expect(key(retry)).toBe(key(first));
    const expiresAt = new Date(2099, 0, 4, 23, 59, 59).toISOString();
    expect(retry?.body).toEqual({
      amount: 500,
      reason: 'Sorry for the outage',
      expires_at: expiresAt,
      priority: null,
      source: 'promotion',
    });
    expect(screen.getByTestId('user-said')).toHaveTextContent('Granted 500 credits (grant #9). The balance is now 2,000 credits.');
    await waitFor(() => expect(screen.getByTestId('user-balance')).toHaveTextContent('2,000 credits'));
    expect(api.sent('GET', `${CREDITS}/grants`).length).toBeGreaterThan(1);
    expect(api.sent('GET', `${CREDITS}/transactions`).length).toBeGreaterThan(1);
    expect(api.sent('GET', '/api/admin/audit').length).toBeGreaterThan(1);
    expect(within(screen.getByRole('form', { name: 'Grant credits' })).getByLabelText('Reason')).toHaveValue('');
  });

  it('makes a new key each time the dialog opens', async () => {
    const api = page({ [`POST ${CREDITS}/add`]: problem(503, 'service_unavailable', 'Busy.') });
    await fillGrant();
    await userEvent.click(screen.getByRole('button', { name: 'Grant credits' }));
    await screen.findByText(/The credits were not granted/);
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await userEvent.click(screen.getByRole('button', { name: 'Grant credits…' }));
    await userEvent.click(screen.getByRole('button', { name: 'Grant credits' }));
    await waitFor(() => expect(api.sent('POST', `${CREDITS}/add`)).toHaveLength(2));
    const [first, second] = api.sent('POST', `${CREDITS}/add`);
    expect(key(second)).not.toBe(key(first));
  });

  it('checks the form before asking', async () => {
    page();
    const form = await screen.findByRole('form', { name: 'Grant credits' });
    await userEvent.type(within(form).getByLabelText('Credits'), '1.5');
    await userEvent.type(within(form).getByLabelText('Priority (0–100)'), '101');
    await userEvent.click(within(form).getByRole('button', { name: 'Grant credits…' }));
    expect(within(form).getByLabelText('Credits')).toHaveAccessibleDescription('Enter whole credits from 1.');
    expect(within(form).getByLabelText('Reason')).toHaveAttribute('aria-invalid', 'true');
    expect(within(form).getByLabelText('Priority (0–100)')).toHaveAccessibleDescription(
      'A priority is a whole number from 0 to 100.',
    );
    expect(within(form).getByLabelText('Credits')).toHaveFocus();
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();
  });
});

describe('voiding a grant', () => {
  it('asks why, voids with one key, and refreshes the balance', async () => {
    let voided = false;
    const api = page({
      'GET /api/admin/users/7': () => ({ body: { ...PROFILE, balance: voided ? 1000 : 1500 } }),
      [`GET ${CREDITS}/grants`]: () => ({ body: { data: voided ? [] : [GRANT] } }),
      [`POST ${CREDITS}/grants/5/void`]: () => {
        voided = true;
        return { body: { grant: { ...GRANT, status: 'voided', remaining: 0 }, transaction_id: 4, balance: 1000 } };
      },
    });
    const button = await screen.findByRole('button', { name: 'Void grant #5' });
    await userEvent.click(button);
    const dialog = screen.getByRole('alertdialog', { name: 'Void grant #5?' });
    expect(dialog).toHaveTextContent('The 500 credits that remain of this promotion grant leave the user’s balance now.');
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();

    await userEvent.click(within(dialog).getByRole('button', { name: 'Void grant' }));
    expect(within(dialog).getByRole('alert')).toHaveTextContent('Say why the grant is voided.');
    expect(within(dialog).getByLabelText('Reason')).toHaveFocus();
    expect(api.sent('POST', `${CREDITS}/grants/5/void`)).toHaveLength(0);

    await userEvent.type(within(dialog).getByLabelText('Reason'), 'Granted by mistake');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Void grant' }));
    await waitFor(() => expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument());
    const [sent] = api.sent('POST', `${CREDITS}/grants/5/void`);
    expect(sent?.body).toEqual({ reason: 'Granted by mistake' });
    expect(key(sent)).toMatch(/^[0-9a-f]{32}$/);
    expect(screen.getByTestId('user-said')).toHaveTextContent('Voided grant #5. The balance is now 1,000 credits.');
    await waitFor(() => expect(screen.getByTestId('user-balance')).toHaveTextContent('1,000 credits'));
    expect(await screen.findByTestId('grants-empty')).toHaveTextContent('No active grants.');
  });

  it('keeps the dialog open with the service’s refusal', async () => {
    page({ [`POST ${CREDITS}/grants/5/void`]: problem(409, 'conflict', 'Grant 5 is expired, not active.') });
    await userEvent.click(await screen.findByRole('button', { name: 'Void grant #5' }));
    const dialog = screen.getByRole('alertdialog');
    await userEvent.type(within(dialog).getByLabelText('Reason'), 'Mistake');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Void grant' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('The grant was not voided: Grant 5 is expired, not active.');
  });
});
