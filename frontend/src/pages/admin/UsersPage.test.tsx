import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, problem } from '../../test/fakeApi';
import { renderPage } from '../../test/render';
import { UsersPage } from './UsersPage';

const URL = '/api/admin/users';
const ADA = { user_id: 42, email: 'ada@example.com', name: 'Ada', stripe_customer_id: 'cus_ada', balance: 1500 };

function page(routes: Parameters<typeof fakeApi>[0], url = '/admin/users') {
  const api = fakeApi(routes);
  vi.stubGlobal('fetch', api.fetch);
  const rendered = renderPage(<UsersPage />, { url, path: '/admin/users' });
  return { api, router: rendered.router };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<UsersPage>', () => {
  it('searches by what the admin typed and links each user to their page', async () => {
    const { api, router } = page({ [`GET ${URL}`]: { body: { data: [ADA] } } });
    expect(api.calls).toHaveLength(0); // nothing asked before a search
    await userEvent.type(screen.getByLabelText('User id, email or Stripe customer id'), ' ada@example.com {Enter}');
    const table = await screen.findByTestId('users-table');
    expect(within(table).getByRole('link', { name: 'User 42' })).toHaveAttribute('href', '/admin/users/42');
    expect(table).toHaveTextContent('ada@example.com');
    expect(table).toHaveTextContent('cus_ada');
    expect(table).toHaveTextContent('1,500 credits');
    expect(api.sent('GET', URL)[0]?.query.get('query')).toBe('ada@example.com');
    expect(router.state.location.search).toBe('?query=ada%40example.com');
  });

  it('runs the search in the URL, and says when nobody matches', async () => {
    page({ [`GET ${URL}`]: { body: { data: [] } } }, '/admin/users?query=cus_nobody');
    expect(screen.getByLabelText('User id, email or Stripe customer id')).toHaveValue('cus_nobody');
    expect(screen.getByRole('status')).toHaveTextContent('Searching…');
    expect(await screen.findByTestId('users-empty')).toHaveTextContent('No user matches “cus_nobody”.');
  });

  it('explains a query that is neither an id, an email nor a customer id (422)', async () => {
    page({
      [`GET ${URL}`]: problem(422, 'validation_error', 'Search by user id, email or Stripe customer id (cus_...).'),
    });
    await userEvent.type(screen.getByLabelText('User id, email or Stripe customer id'), 'ada lovelace');
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    expect(await screen.findByTestId('users-invalid')).toHaveTextContent(
      '“ada lovelace” is not a user id, an email or a Stripe customer id. Search by a user id (digits only, like 42), an email (with an @) or a customer id (starting cus_).',
    );
    expect(screen.getByRole('alert')).toBe(screen.getByTestId('users-invalid'));
  });

  it('asks for something to search for, without asking the service', async () => {
    const { api } = page({});
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Type a user id, an email or a Stripe customer id');
    expect(api.calls).toHaveLength(0);
  });

  it('shows other failures with a way to try again', async () => {
    let calls = 0;
    page(
      { [`GET ${URL}`]: () => (++calls === 1 ? problem(503, 'service_unavailable', 'Busy.') : { body: { data: [ADA] } }) },
      '/admin/users?query=42',
    );
    expect(await screen.findByRole('alert')).toHaveTextContent('The search failed: The billing service is busy');
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('users-table')).toHaveTextContent('User 42');
  });
});
