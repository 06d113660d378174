import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { SubscriptionSummary } from '../../services/stripe';
import { fakeApi, problem } from '../../test/fakeApi';
import { SubscriptionManager } from './SubscriptionManager';

const RENEWS = '2026-12-26T12:00:00Z';
const ACTIVE: SubscriptionSummary = {
  user_id: 123,
  plan: {
    subscription_id: 'sub_1',
    price_id: 'price_starter',
    product_id: 'prod_starter',
    product_name: 'Starter',
    quantity: 1,
    currency: 'usd',
    unit_amount: 1000,
    interval: 'month',
    interval_count: 1,
  },
  status: 'active',
  renews_at: RENEWS,
  ends_at: null,
  credits_per_cycle: 1000,
  totals: { credits_granted: 1000, payments: [] },
};
const ENDING = { ...ACTIVE, renews_at: null, ends_at: RENEWS };
const NONE = { ...ACTIVE, plan: null, status: null, renews_at: null, credits_per_cycle: null };
const PRODUCTS = {
  data: [
    {
      id: 'prod_starter',
      name: 'Starter',
      description: null,
      credits: null,
      prices: [
        { id: 'price_starter', currency: 'usd', unit_amount: 1000, type: 'recurring', interval: 'month', interval_count: 1, credits: 1000 },
      ],
    },
    {
      id: 'prod_topup',
      name: 'Top-up',
      description: null,
      credits: null,
      prices: [
        { id: 'price_topup', currency: 'usd', unit_amount: 500, type: 'one_time', interval: null, interval_count: null, credits: 500 },
      ],
    },
  ],
};
const SUMMARY = 'GET /api/financial/subscriptions/123/summary';
const renewal = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' }).format(new Date(RENEWS));

function summaries(...answers: SubscriptionSummary[]) {
  let index = 0;
  return () => ({ body: answers[Math.min(index++, answers.length - 1)] });
}

describe('<SubscriptionManager>', () => {
  it('shows the plan, its status, renewal date and credits per cycle', async () => {
    const api = fakeApi({ [SUMMARY]: { body: ACTIVE }, 'GET /api/stripe/products': { body: PRODUCTS } });
    render(<SubscriptionManager userId={123} service={api.service} />);

    expect(await screen.findByTestId('subscription-plan')).toHaveTextContent('Starter $10.00 / month');
    expect(screen.getByTestId('subscription-status')).toHaveTextContent('Active');
    expect(screen.getByText('Renews on')).toBeInTheDocument();
    expect(screen.getByTestId('subscription-renewal')).toHaveTextContent(renewal);
    expect(screen.getByTestId('subscription-credits')).toHaveTextContent('1,000 credits');
  });

  it('cancels at period end only after a confirmation, then states the end date', async () => {
    const api = fakeApi({
      [SUMMARY]: summaries(ACTIVE, ENDING),
      'GET /api/stripe/products': { body: PRODUCTS },
      'DELETE /api/stripe/subscriptions/sub_1': { body: { id: 'sub_1', cancel_at_period_end: true } },
    });
    render(<SubscriptionManager userId={123} service={api.service} />);

    await userEvent.click(await screen.findByRole('button', { name: 'Cancel subscription' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Cancel Starter?' });
    expect(dialog).toHaveTextContent(`You keep the plan and its credits until ${renewal}`);
    expect(within(dialog).getByRole('button', { name: 'Keep my plan' })).toHaveFocus();
    await userEvent.keyboard('{Escape}');
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();
    expect(api.sent('DELETE', '/api/stripe/subscriptions/sub_1')).toHaveLength(0);

    await userEvent.click(screen.getByRole('button', { name: 'Cancel subscription' }));
    await userEvent.click(screen.getByRole('button', { name: 'Yes, cancel at period end' }));

    expect(await screen.findByTestId('subscription-ending')).toHaveTextContent(
      `Your plan is canceled and ends on ${renewal}.`,
    );
    expect(screen.getByText('Ends on')).toBeInTheDocument();
    const [cancel] = api.sent('DELETE', '/api/stripe/subscriptions/sub_1');
    expect(cancel?.query.get('at_period_end')).toBe('true');
    expect(screen.queryByRole('button', { name: 'Cancel subscription' })).not.toBeInTheDocument();
  });

  it('subscribes through Checkout: only recurring prices, with the given return URLs', async () => {
    const navigate = vi.fn();
    const api = fakeApi({
      [SUMMARY]: { body: NONE },
      'GET /api/stripe/products': { body: PRODUCTS },
      'POST /api/stripe/create-checkout-session': { body: { id: 'cs_1', url: 'https://checkout/cs_1' } },
    });
    render(
      <SubscriptionManager
        userId={123}
        service={api.service}
        successUrl="http://app/#/ok"
        cancelUrl="http://app/#/no"
        navigate={navigate}
      />,
    );

    await userEvent.click(await screen.findByRole('button', { name: 'Subscribe to Starter' }));
    expect(screen.queryByRole('button', { name: 'Subscribe to Top-up' })).not.toBeInTheDocument();
    expect(navigate).toHaveBeenCalledWith('https://checkout/cs_1');
    expect(api.sent('POST', '/api/stripe/create-checkout-session')[0]?.body).toEqual({
      user_id: 123,
      price_id: 'price_starter',
      success_url: 'http://app/#/ok',
      cancel_url: 'http://app/#/no',
      mode: 'subscription',
    });
  });

  it('opens the customer portal with the return URL', async () => {
    const navigate = vi.fn();
    const api = fakeApi({
      [SUMMARY]: { body: ACTIVE },
      'GET /api/stripe/products': { body: PRODUCTS },
      'GET /api/stripe/customer-portal': { body: { url: 'https://portal/session' } },
    });
    render(<SubscriptionManager userId={123} service={api.service} returnUrl="http://app/#/sub" navigate={navigate} />);

    await userEvent.click(await screen.findByRole('button', { name: 'Manage billing' }));
    expect(navigate).toHaveBeenCalledWith('https://portal/session');
    const [portal] = api.sent('GET', '/api/stripe/customer-portal');
    expect(portal?.query.get('user_id')).toBe('123');
    expect(portal?.query.get('return_url')).toBe('http://app/#/sub');
  });

  it('says what went wrong when Stripe fails, and keeps the plan shown', async () => {
    const api = fakeApi({
      [SUMMARY]: { body: ACTIVE },
      'GET /api/stripe/products': { body: PRODUCTS },
      'DELETE /api/stripe/subscriptions/sub_1': problem(502, 'stripe_error', 'api_connection_error'),
    });
    render(<SubscriptionManager userId={123} service={api.service} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Cancel subscription' }));
    await userEvent.click(screen.getByRole('button', { name: 'Yes, cancel at period end' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Our payment provider did not answer');
    expect(screen.getByTestId('subscription-status')).toHaveTextContent('Active');
  });

  it('after Checkout, looks again until the webhook has brought the plan', async () => {
    const api = fakeApi({
      [SUMMARY]: summaries(NONE, NONE, ACTIVE),
      'GET /api/stripe/products': { body: PRODUCTS },
    });
    render(<SubscriptionManager userId={123} service={api.service} awaitingCheckout />);

    expect(await screen.findByText(/Waiting for Stripe to confirm/)).toBeInTheDocument();
    expect(await screen.findByTestId('subscription-status', {}, { timeout: 4000 })).toHaveTextContent('Active');
    expect(api.sent('GET', '/api/financial/subscriptions/123/summary').length).toBe(3);
  });
});
