import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import type { fakeApi } from './test/fakeApi';
import { leaveApp, renderApp } from './test/renderApp';

const EMPTY = { body: { data: [], has_more: false, next_cursor: null } };

function at(hash: string, role: 'user' | 'admin' | null, routes: Parameters<typeof fakeApi>[0] = {}) {
  return renderApp(routes, { hash, role });
}

afterEach(leaveApp);

describe('routes', () => {
  it('answers an unknown route with the not-found page', async () => {
    at('#/no/such/page', null);
    expect(await screen.findByRole('heading', { level: 1, name: 'Page not found' })).toHaveFocus();
  });

  it('asks to sign in before a page for users', async () => {
    at('#/credits', null);
    expect(await screen.findByRole('heading', { level: 1, name: 'Please sign in' })).toBeInTheDocument();
  });

  it('keeps the admin console from users', async () => {
    const api = at('#/admin/webhooks', 'user');
    expect(await screen.findByText(/This page is for admins/)).toBeInTheDocument();
    expect(api.calls).toHaveLength(0);
  });

  it('loads the admin console for an admin, with its own navigation, focus on the heading', async () => {
    at('#/admin/webhooks', 'admin', { 'GET /api/admin/webhooks': EMPTY, 'GET /api/admin/webhook-endpoints': { body: { data: [] } } });
    const heading = await screen.findByRole('heading', { level: 1, name: 'Webhook inbox' });
    await waitFor(() => expect(heading).toHaveFocus());
    const nav = screen.getByRole('navigation', { name: 'Admin' });
    expect(within(nav).getByRole('link', { name: 'Webhooks' })).toHaveAttribute('aria-current', 'page');
    expect(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Admin' })).toHaveAttribute(
      'aria-current',
      'page',
    );

    await userEvent.click(within(nav).getByRole('link', { name: 'Endpoints' }));
    expect(window.location.hash).toBe('#/admin/endpoints');
    await waitFor(() => expect(screen.getByRole('heading', { level: 1, name: 'Webhook endpoints' })).toHaveFocus());
    expect(within(nav).getByRole('link', { name: 'Users' })).toHaveAttribute('href', '#/admin/users');
  });

  it('hands the query of a Checkout return to the page', async () => {
    at('#/credits?checkout=success&session_id=cs_1', 'user', {
      'GET /api/financial/credits/7': { body: { user_id: 7, balance: 0, held: 0, expiring: [], currency: 'credits', updated_at: '2026-12-01T00:00:00Z' } },
      'GET /api/financial/credits/7/transactions': EMPTY,
      'GET /api/stripe/config': { body: { publishable_key: null } },
    });
    expect(await screen.findByText(/Payment received. Waiting for Stripe to confirm it/)).toBeInTheDocument();
  });
});
