import { render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatDateTime } from '../lib/format';
import { parseHash } from '../lib/router';
import type { CreditBalance } from '../services/stripe';
import { fakeApi } from '../test/fakeApi';
import { CreditsPage } from './CreditsPage';

const SOON = '2026-12-24T18:00:00Z';
const LATER = '2027-01-31T00:00:00Z';
const BALANCE: CreditBalance = {
  user_id: 7,
  balance: 1200,
  held: 300,
  expiring: [
    { amount: 200, expires_at: SOON },
    { amount: 50, expires_at: LATER },
  ],
  currency: 'credits',
  updated_at: '2026-12-01T00:00:00Z',
};

function page(balance: CreditBalance) {
  const api = fakeApi({
    'GET /api/financial/credits/7': { body: balance },
    'GET /api/financial/credits/7/transactions': { body: { data: [], has_more: false, next_cursor: null } },
  });
  vi.stubGlobal('fetch', api.fetch);
  render(<CreditsPage userId={7} route={parseHash('#/credits')} />);
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<CreditsPage>', () => {
  it('shows what holds reserve apart from the balance, and the credits expiring next', async () => {
    page(BALANCE);
    expect(await screen.findByTestId('credit-held')).toHaveTextContent('300 credits held');
    expect(screen.getByTestId('credit-balance')).toHaveTextContent('1,200 credits');
    const expiring = within(screen.getByTestId('credit-expiring')).getAllByRole('listitem');
    expect(expiring.map((item) => item.textContent)).toEqual([
      `200 credits on ${formatDateTime(SOON)}`,
      `50 credits on ${formatDateTime(LATER)}`,
    ]);
  });

  it('lists no expiry when no credit expires', async () => {
    page({ ...BALANCE, held: 0, expiring: [] });
    expect(await screen.findByTestId('credit-held')).toHaveAttribute('data-value', '0');
    expect(screen.queryByTestId('credit-expiring')).not.toBeInTheDocument();
    expect(screen.queryByText('Expiring soon')).not.toBeInTheDocument();
  });
});
