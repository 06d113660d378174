import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, problem } from '../../test/fakeApi';
import { renderPage } from '../../test/render';
import { EndpointsPage } from './EndpointsPage';
import type { Endpoint } from '../../lib/schemas';

const URL = '/api/admin/webhook-endpoints';
const HOOKS: Endpoint = {
  id: 3,
  url: 'https://platform.example/hooks',
  description: 'Platform',
  events: ['credits.granted', 'credits.low'],
  created_at: '2026-12-01T10:00:00Z',
  previous_secret_until: null,
};
const SECRET = 'whsec_c2VjcmV0LW9uY2U';

function page(routes: Parameters<typeof fakeApi>[0]) {
  const api = fakeApi(routes);
  vi.stubGlobal('fetch', api.fetch);
  renderPage(<EndpointsPage />, { url: '/admin/endpoints' });
  return api;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<EndpointsPage>', () => {
  it('lists the endpoints with what they are sent, and links to their deliveries', async () => {
    page({ [`GET ${URL}`]: { body: { data: [HOOKS] } } });
    expect(screen.getByText('Loading endpoints…')).toBeInTheDocument();
    const table = await screen.findByTestId('endpoint-table');
    expect(table).toHaveTextContent('https://platform.example/hooks');
    expect(table).toHaveTextContent('credits.granted, credits.low');
    expect(within(table).getByRole('link', { name: 'Deliveries to https://platform.example/hooks' })).toHaveAttribute(
      'href',
      '/admin/endpoints/3',
    );
  });

  it('says when there is none', async () => {
    page({ [`GET ${URL}`]: { body: { data: [] } } });
    expect(await screen.findByTestId('endpoints-empty')).toHaveTextContent('No endpoints yet');
  });

  it('shows the problem when the endpoints cannot be loaded', async () => {
    page({ [`GET ${URL}`]: problem(503, 'service_unavailable', 'Busy.') });
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The endpoints could not be loaded: The billing service is busy or down for a moment.',
    );
  });

  it('creates an endpoint and shows its secret once, with a copy button', async () => {
    let listed: Endpoint[] = [];
    const api = page({
      [`GET ${URL}`]: () => ({ body: { data: listed } }),
      [`POST ${URL}`]: (request) => {
        const created = { ...HOOKS, ...(request.body as object), id: 4 } as Endpoint;
        listed = [created];
        return { status: 201, body: { ...created, secret: SECRET } };
      },
    });
    await screen.findByTestId('endpoints-empty');
    await userEvent.click(screen.getByRole('button', { name: 'Create endpoint' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Enter the URL to send events to.');

    await userEvent.type(screen.getByLabelText('Endpoint URL'), 'https://platform.example/hooks');
    await userEvent.click(screen.getByRole('checkbox', { name: 'credits.granted' }));
    await userEvent.click(screen.getByRole('button', { name: 'Create endpoint' }));

    const reveal = await screen.findByTestId('endpoint-secret');
    expect(within(reveal).getByRole('heading')).toHaveTextContent('Signing secret created: shown only once');
    expect(within(reveal).getByRole('heading')).toHaveFocus();
    expect(within(reveal).getByLabelText('Signing secret')).toHaveValue(SECRET);
    const [created] = api.sent('POST', URL);
    expect(created?.body).toEqual({
      url: 'https://platform.example/hooks',
      events: ['credits.granted'],
      description: null,
    });
    expect(created?.headers.get('Idempotency-Key')).toMatch(/^[0-9a-f]{32}$/);

    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    await userEvent.click(within(reveal).getByRole('button', { name: 'Copy secret' }));
    expect(writeText).toHaveBeenCalledWith(SECRET);
    expect(await within(reveal).findByText('Copied to the clipboard.')).toBeInTheDocument();

    expect(await screen.findByTestId('endpoint-table')).not.toHaveTextContent(SECRET);
    await userEvent.click(within(reveal).getByRole('button', { name: 'I have saved it' }));
    expect(screen.queryByTestId('endpoint-secret')).not.toBeInTheDocument();
    expect(document.body).not.toHaveTextContent(SECRET);
    expect(screen.getByRole('heading', { level: 1 })).toHaveFocus();
  });

  it('rotates a secret after asking, and shows the new one once', async () => {
    const api = page({
      [`GET ${URL}`]: { body: { data: [HOOKS] } },
      [`POST ${URL}/3/rotate-secret`]: { body: { ...HOOKS, secret: 'whsec_new', previous_secret_until: '2026-12-02T10:00:00Z' } },
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Rotate secret of https://platform.example/hooks' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Rotate the signing secret?' });
    expect(dialog).toHaveTextContent('keeps signing beside it for 24 hours');
    expect(api.sent('POST', `${URL}/3/rotate-secret`)).toHaveLength(0);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Rotate secret' }));

    const reveal = await screen.findByTestId('endpoint-secret');
    expect(within(reveal).getByLabelText('Signing secret')).toHaveValue('whsec_new');
    expect(within(reveal).getByRole('heading')).toHaveTextContent('Signing secret rotated');
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();
  });

  it('deletes an endpoint only once confirmed; Escape keeps it', async () => {
    let listed = [HOOKS];
    const api = page({
      [`GET ${URL}`]: () => ({ body: { data: listed } }),
      [`DELETE ${URL}/3`]: () => {
        listed = [];
        return { status: 204, body: undefined };
      },
    });
    const remove = await screen.findByRole('button', { name: 'Delete https://platform.example/hooks' });
    await userEvent.click(remove);
    expect(screen.getByRole('alertdialog', { name: 'Delete this endpoint?' })).toBeInTheDocument();
    await userEvent.keyboard('{Escape}');
    expect(remove).toHaveFocus();
    expect(api.sent('DELETE', `${URL}/3`)).toHaveLength(0);

    await userEvent.click(remove);
    await userEvent.click(screen.getByRole('button', { name: 'Delete endpoint' }));
    expect(await screen.findByTestId('endpoints-empty')).toBeInTheDocument();
    expect(screen.getByTestId('endpoints-said')).toHaveTextContent(
      'Deleted the endpoint https://platform.example/hooks.',
    );
    expect(api.sent('DELETE', `${URL}/3`)[0]?.headers.get('Idempotency-Key')).toBeTruthy();
    await waitFor(() => expect(screen.getByRole('heading', { name: 'Endpoints' })).toHaveFocus());
  });

  it('shows why the service refused a new endpoint', async () => {
    page({
      [`GET ${URL}`]: { body: { data: [] } },
      [`POST ${URL}`]: problem(422, 'validation_error', 'the URL must start with https://'),
    });
    await userEvent.type(await screen.findByLabelText('Endpoint URL'), 'ftp://nope');
    await userEvent.click(screen.getByRole('checkbox', { name: /Every event/ }));
    expect(screen.getByRole('checkbox', { name: 'credits.low' })).toBeDisabled();
    await userEvent.click(screen.getByRole('button', { name: 'Create endpoint' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The endpoint was not created: the URL must start with https://',
    );
  });
});
