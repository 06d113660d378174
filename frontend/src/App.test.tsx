import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { readToken } from './lib/session';
import { stripeService } from './services/stripe';
import { type fakeApi, problem } from './test/fakeApi';
import { leaveApp, renderApp } from './test/renderApp';

function token(claims: object): string {
  const part = btoa(JSON.stringify(claims)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `e30.${part}.signature`;
}

function app(routes: Parameters<typeof fakeApi>[0]) {
  return renderApp(routes, { hash: '#/sign-in' });
}

afterEach(leaveApp);

describe('development sign-in', () => {
  it('signs in as the admin through the service and opens the admin page', async () => {
    const expires = new Date(Date.now() + 3_600_000).toISOString();
    const api = app({
      'POST /api/dev/sign-in': { body: { token: 'tok', user_id: 1, role: 'admin', expires_at: expires } },
      'GET /api/financial/admin/dashboard': problem(404, 'not_found', 'Not Found'),
    });
    await userEvent.click(screen.getByRole('button', { name: 'Sign in as admin' }));

    await waitFor(() => expect(window.location.hash).toBe('#/admin'));
    expect(screen.getByTestId('signed-in-as')).toHaveTextContent('Admin');
    expect(api.sent('POST', '/api/dev/sign-in')[0]?.body).toEqual({ user_id: 1, role: 'admin' });
    expect(stripeService.userId).toBe(1);
    expect(JSON.parse(sessionStorage.getItem('billing.session') ?? '{}')).toMatchObject({ token: 'tok', role: 'admin' });
  });

  it('offers the token field when the service has no development sign-in', async () => {
    app({});
    await userEvent.click(screen.getByRole('button', { name: 'Sign in as user 1' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Development sign-in is off');

    const pasted = token({ sub: '7', role: 'user', exp: Math.floor(Date.now() / 1000) + 60 });
    await userEvent.type(screen.getByLabelText(/Bearer token/), pasted);
    await userEvent.click(screen.getByRole('button', { name: 'Use token' }));
    await waitFor(() => expect(window.location.hash).toBe('#/credits'));
    expect(screen.getByTestId('signed-in-as')).toHaveTextContent('User 7');
  });
});

describe('readToken', () => {
  it('reads the user and role of a token, and refuses what is not one', () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect(readToken(token({ sub: '42', role: 'admin', exp }))).toMatchObject({ userId: 42, role: 'admin' });
    expect(readToken(token({ sub: '42', role: 'service', exp }))).toBeNull();
    expect(readToken(token({ sub: 'x', role: 'user', exp }))).toBeNull();
    expect(readToken('not a token')).toBeNull();
  });
});
