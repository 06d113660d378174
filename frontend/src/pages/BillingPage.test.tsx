import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Payment } from '../lib/schemas';
import { formatDate } from '../lib/format';
import { fakeApi, problem } from '../test/fakeApi';
import { renderPage } from '../test/render';
import { BillingPage } from './BillingPage';

const TOPUP: Payment = {
  id: 2,
  stripe_id: 'pi_2',
  kind: 'topup',
  status: 'succeeded',
  amount: 2500,
  currency: 'usd',
  credits: 2500,
  amount_refunded: 0,
  created_at: '2026-12-03T10:00:00Z',
  invoice_url: null,
  receipt_url: 'https://pay.stripe.com/receipts/rcpt_2',
};
const INVOICE: Payment = {
  ...TOPUP,
  id: 1,
  stripe_id: 'in_1',
  kind: 'invoice',
  amount: 1000,
  credits: 1000,
  amount_refunded: 500,
  created_at: '2026-11-03T10:00:00Z',
  invoice_url: 'https://invoice.stripe.com/i/in_1',
  receipt_url: 'https://pay.stripe.com/receipts/rcpt_1',
};
const PAYMENTS = '/api/stripe/invoices/7';
const CARD = '/api/stripe/saved-card/7';

function page(routes: Parameters<typeof fakeApi>[0]) {
  const api = fakeApi({
    [`GET ${CARD}`]: { body: null },
    [`GET ${PAYMENTS}`]: { body: { data: [], has_more: false, next_cursor: null } },
    ...routes,
  });
  vi.stubGlobal('fetch', api.fetch);
  const navigate = vi.fn();
  renderPage(<BillingPage userId={7} navigate={navigate} />, { url: '/billing' });
  return { api, navigate };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<BillingPage>', () => {
  it('lists the payments with links to Stripe’s invoice and receipt, in new tabs', async () => {
    const { api } = page({ [`GET ${PAYMENTS}`]: { body: { data: [TOPUP, INVOICE], has_more: false, next_cursor: null } } });
    expect(screen.getByText('Loading your payments…')).toBeInTheDocument();
    const table = await screen.findByTestId('payments');
    const [topup, invoice] = within(table).getAllByRole('row').slice(1);
    expect(topup).toHaveTextContent(`${formatDate(TOPUP.created_at)}Top-up2,500 credits$25.00Paid`);
    const receipt = within(topup!).getByRole('link', { name: /^Receipt/ });
    expect(receipt).toHaveAttribute('href', 'https://pay.stripe.com/receipts/rcpt_2');
    expect(receipt).toHaveAttribute('target', '_blank');
    expect(receipt).toHaveAttribute('rel', 'noopener noreferrer');
    expect(receipt).toHaveAccessibleName(`Receipt for $25.00 on ${formatDate(TOPUP.created_at)} (opens in a new tab)`);
    expect(within(topup!).queryByRole('link', { name: /^Invoice/ })).not.toBeInTheDocument();
    expect(within(invoice!).getByRole('link', { name: /^Invoice/ })).toHaveAttribute('href', 'https://invoice.stripe.com/i/in_1');
    expect(invoice).toHaveTextContent('Subscription invoice');
    expect(invoice).toHaveTextContent('$5.00 refunded');
    // Customers get no link to Stripe's dashboard.
    expect(within(table).queryByRole('link', { name: /^Stripe/ })).not.toBeInTheDocument();
    expect(api.sent('GET', PAYMENTS)[0]?.query.get('limit')).toBe('20');
  });

  it('pages older payments by the cursor', async () => {
    const { api } = page({
      [`GET ${PAYMENTS}`]: (request) =>
        request.query.get('cursor') === 'p2'
          ? { body: { data: [INVOICE], has_more: false, next_cursor: null } }
          : { body: { data: [TOPUP], has_more: true, next_cursor: 'p2' } },
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Show older payments' }));
    expect(await screen.findByText('Subscription invoice')).toBeInTheDocument();
    expect(api.sent('GET', PAYMENTS).map((call) => call.query.get('cursor'))).toEqual([null, 'p2']);
  });

  it('says when there is no payment and no saved card', async () => {
    page({});
    expect(await screen.findByTestId('payments-empty')).toHaveTextContent('No payments yet.');
    expect(await screen.findByTestId('saved-card-none')).toHaveTextContent('No saved card.');
  });

  it('shows the saved card by brand, last 4 and expiry', async () => {
    page({ [`GET ${CARD}`]: { body: { brand: 'visa', last4: '4242', exp_month: 4, exp_year: 2034 } } });
    expect(await screen.findByTestId('saved-card')).toHaveTextContent('Visa ending in 4242, expires 04/2034');
  });

  it('shows each panel’s error on its own', async () => {
    page({
      [`GET ${CARD}`]: problem(502, 'stripe_error', 'Stripe is down.'),
      [`GET ${PAYMENTS}`]: problem(403, 'forbidden', 'Not yours.'),
    });
    const card = screen.getByRole('region', { name: 'Card on file' });
    expect(await within(card).findByRole('alert')).toHaveTextContent(
      'Your card could not be loaded: Our payment provider did not answer as expected.',
    );
    const payments = screen.getByRole('region', { name: 'Payments' });
    expect(await within(payments).findByRole('alert')).toHaveTextContent('Your payments could not be loaded');
  });

  it('opens Stripe’s customer portal, returning here', async () => {
    const { api, navigate } = page({ 'GET /api/stripe/customer-portal': { body: { url: 'https://billing.stripe.com/p/session_1' } } });
    await screen.findByTestId('saved-card-none');
    await userEvent.click(screen.getByRole('button', { name: 'Manage cards and invoices in Stripe' }));
    await waitFor(() => expect(navigate).toHaveBeenCalledWith('https://billing.stripe.com/p/session_1'));
    const [asked] = api.sent('GET', '/api/stripe/customer-portal');
    expect(asked?.query.get('user_id')).toBe('7');
    expect(asked?.query.get('return_url')).toBe(window.location.href);
  });

  it('says when the portal cannot be opened', async () => {
    const { navigate } = page({
      'GET /api/stripe/customer-portal': problem(422, 'redirect_not_allowed', 'The return URL is not allowed.'),
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Manage cards and invoices in Stripe' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The billing portal could not be opened: The return URL is not allowed.',
    );
    expect(navigate).not.toHaveBeenCalled();
  });
});
