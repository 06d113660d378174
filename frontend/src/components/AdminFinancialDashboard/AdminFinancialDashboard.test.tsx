import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeApi, problem } from '../../test/fakeApi';
import { AdminFinancialDashboard } from './AdminFinancialDashboard';
import { dailySeries, lastDays } from './days';
import type { AdminDashboard } from './types';

// The example of helpers/interfaces.md, the agreed shape of the route.
const EXAMPLE: AdminDashboard = {
  range: { from: '2026-10-28', to: '2026-11-26' },
  revenue: {
    by_currency: [{ currency: 'usd', gross: 12000, refunded: 500, net: 11500 }],
    daily: [{ date: '2026-11-01', currency: 'usd', gross: 1000, refunded: 0, net: 1000 }],
  },
  recurring: [{ currency: 'usd', mrr: 6000, arr: 72000 }],
  subscriptions: { active: 10, new: 3, canceled: 1, churn_rate: 0.0909 },
  payments: { succeeded: 40, failed: 2, failure_rate: 0.0476 },
  credits: {
    issued: 50000,
    spent: 20000,
    expired: 1500,
    voided: 0,
    outstanding: 28500,
    liability: { paid: 25000, promotional: 3000, held: 500 },
    breakage: { paid: 1000, promotional: 500 },
  },
  top_users: [{ user_id: 42, spent: 9000 }],
  webhooks: {
    received: 120,
    processed: 115,
    failed: 2,
    dead: 1,
    ignored: 2,
    lag_p50_seconds: 0.2,
    lag_p95_seconds: 1.4,
  },
};
const ROUTE = 'GET /api/financial/admin/dashboard';

const shown = (id: string) => screen.getByTestId(id).textContent;

describe('<AdminFinancialDashboard>', () => {
  it("shows every figure of the service's answer", async () => {
    const api = fakeApi({ [ROUTE]: { body: EXAMPLE } });
    render(<AdminFinancialDashboard service={api.service} />);

    await screen.findByTestId('revenue-usd-gross');
    expect(api.calls[0]?.query.toString()).toBe(''); // the service's default range
    expect(shown('dashboard-range')).toContain('2026-10-28 to 2026-11-26');
    expect(shown('revenue-usd-gross')).toBe('$120.00');
    expect(shown('revenue-usd-refunded')).toBe('$5.00');
    expect(shown('revenue-usd-net')).toBe('$115.00');
    expect(shown('mrr-usd')).toBe('$60.00');
    expect(shown('arr-usd')).toBe('$720.00');
    expect(shown('subscriptions-active')).toBe('10');
    expect(shown('subscriptions-new')).toBe('3');
    expect(shown('subscriptions-canceled')).toBe('1');
    expect(shown('subscriptions-churn')).toBe('9.09%');
    expect(shown('payments-succeeded')).toBe('40');
    expect(shown('payments-failed')).toBe('2');
    expect(shown('payments-failure-rate')).toBe('4.76%');
    expect(shown('credits-issued')).toBe('50,000 credits');
    expect(shown('credits-spent')).toBe('20,000 credits');
    expect(shown('credits-expired')).toBe('1,500 credits');
    expect(shown('credits-voided')).toBe('0 credits');
    expect(shown('credits-outstanding')).toBe('28,500 credits');
    expect(shown('credits-liability-paid')).toBe('25,000 credits');
    expect(shown('credits-liability-promotional')).toBe('3,000 credits');
    expect(shown('credits-liability-held')).toBe('500 credits');
    expect(shown('credits-breakage-paid')).toBe('1,000 credits');
    expect(shown('credits-breakage-promotional')).toBe('500 credits');
    expect(screen.getByText('Outstanding by source')).toBeInTheDocument();
    expect(screen.getByText('Breakage (expired unused)')).toBeInTheDocument();
    expect(shown('webhooks-received')).toBe('120');
    expect(shown('webhooks-dead')).toBe('1');
    expect(shown('webhooks-lag-p95')).toBe('1.4 s');
    expect(shown('webhooks-health')).toBe('Needs attention');
    expect(screen.getByTestId('revenue-usd-net')).toHaveAttribute('data-value', '11500');
    expect(within(screen.getByTestId('top-users')).getByRole('row', { name: '42 9,000 credits' })).toBeInTheDocument();
    // The chart, and the same figures as a table: one row per day of the range.
    const chart = screen.getByTestId('revenue-chart-usd');
    expect(within(chart).getByRole('img', { name: /Net revenue per day in USD.*\$10\.00 in all/ })).toBeInTheDocument();
    expect(within(chart).getAllByRole('row')).toHaveLength(1 + 30);
    expect(within(chart).getByRole('row', { name: 'Nov 1 $10.00 $0.00 $10.00' })).toBeInTheDocument();
  });

  it('splits the liability and the breakage into paid and promotional, with their shares', async () => {
    const api = fakeApi({ [ROUTE]: { body: EXAMPLE } });
    render(<AdminFinancialDashboard service={api.service} />);
    await screen.findByTestId('credits-liability-paid');
    expect(shown('credits-liability-paid-share')).toBe('87.72% of the liability');
    expect(shown('credits-liability-promotional-share')).toBe('10.53% of the liability');
    expect(shown('credits-liability-held-share')).toBe('1.75% of the liability');
    expect(shown('credits-breakage-paid-share')).toBe('66.67% of what expired');
    expect(shown('credits-breakage-promotional-share')).toBe('33.33% of what expired');
  });

  it('gives no share of nothing: no liability, no breakage', async () => {
    const credits = {
      ...EXAMPLE.credits,
      expired: 0,
      outstanding: 0,
      liability: { paid: 0, promotional: 0, held: 0 },
      breakage: { paid: 0, promotional: 0 },
    };
    const api = fakeApi({ [ROUTE]: { body: { ...EXAMPLE, credits } } });
    render(<AdminFinancialDashboard service={api.service} />);
    expect(await screen.findByTestId('credits-breakage-promotional')).toHaveTextContent('0 credits');
    expect(screen.queryByTestId('credits-liability-paid-share')).not.toBeInTheDocument();
    expect(screen.queryByTestId('credits-breakage-paid-share')).not.toBeInTheDocument();
  });

  it('asks for the range picked, and refuses an inverted one without asking', async () => {
    const api = fakeApi({ [ROUTE]: ({ query }) => ({ body: { ...EXAMPLE, range: { from: query.get('from') ?? EXAMPLE.range.from, to: query.get('to') ?? EXAMPLE.range.to } } }) });
    render(<AdminFinancialDashboard service={api.service} today="2026-11-26" />);
    await screen.findByTestId('revenue-usd-gross');

    const from = screen.getByLabelText('From');
    const to = screen.getByLabelText('To');
    expect(from).toHaveValue('2026-10-28');
    await userEvent.clear(from);
    await userEvent.type(from, '2026-11-30');
    await userEvent.clear(to);
    await userEvent.type(to, '2026-11-01');
    await userEvent.click(screen.getByRole('button', { name: 'Apply' }));
    expect(screen.getByRole('alert')).toHaveTextContent('The start date must be on or before the end date.');
    expect(from).toHaveAttribute('aria-invalid', 'true');
    expect(api.calls).toHaveLength(1);

    await userEvent.clear(from);
    await userEvent.type(from, '2026-11-01');
    await userEvent.click(screen.getByRole('button', { name: 'Apply' }));
    await screen.findByText(/2026-11-01 to 2026-11-01/);
    expect(api.calls[1]?.query.toString()).toBe('from=2026-11-01&to=2026-11-01');

    await userEvent.click(screen.getByRole('button', { name: 'Last 7 days' }));
    await screen.findByText(/2026-11-20 to 2026-11-26/);
    expect(api.calls[2]?.query.toString()).toBe('from=2026-11-20&to=2026-11-26');
  });

  it('says when the route is missing or the caller is not an admin', async () => {
    const missing = fakeApi({});
    const { unmount } = render(<AdminFinancialDashboard service={missing.service} />);
    expect(await screen.findByRole('alert')).toHaveTextContent('This service has no admin dashboard yet');
    unmount();

    const forbidden = fakeApi({ [ROUTE]: problem(403, 'forbidden', 'This operation is for admins.') });
    render(<AdminFinancialDashboard service={forbidden.service} />);
    expect(await screen.findByRole('alert')).toHaveTextContent('You are not allowed to do this');
  });
});

describe('days', () => {
  it('fills the days the service left out with zeros, per currency', () => {
    const series = dailySeries(EXAMPLE.revenue.daily, 'usd', { from: '2026-10-31', to: '2026-11-02' });
    expect(series.map((day) => [day.date, day.net])).toEqual([
      ['2026-10-31', 0],
      ['2026-11-01', 1000],
      ['2026-11-02', 0],
    ]);
    expect(dailySeries(EXAMPLE.revenue.daily, 'eur', { from: '2026-11-01', to: '2026-11-01' })[0]?.net).toBe(0);
    expect(lastDays(30, '2026-11-26')).toEqual({ from: '2026-10-28', to: '2026-11-26' });
    expect(lastDays(1, '2026-03-01')).toEqual({ from: '2026-03-01', to: '2026-03-01' });
  });
});
