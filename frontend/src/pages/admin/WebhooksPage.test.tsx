import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stripeService } from '../../services/stripe';
import { type Answer, deferred, fakeApi, problem } from '../../test/fakeApi';
import { renderPage } from '../../test/render';
import type { InboxEvent, InboxEventDetail } from '../../lib/schemas';
import { WebhooksPage } from './WebhooksPage';

const FAILED: InboxEvent = {
  id: 'evt_failed1',
  type: 'charge.dispute.created',
  status: 'failed',
  attempts: 3,
  last_error: 'ValueError: event evt_failed1 carries no object',
  received_at: '2026-12-01T10:00:00Z',
  next_attempt_at: '2026-12-01T10:05:00Z',
  processed_at: null,
};
const URL = '/api/admin/webhooks';
const PAYLOAD = {
  id: 'evt_failed1',
  object: 'event',
  type: 'charge.dispute.created',
  data: { previous_attributes: { evidence: { customer_email_address: '[personal data]' } } },
};

/** The event's own detail, as `GET /api/admin/webhooks/{event_id}` answers for `event`. */
function detailOf(event: InboxEvent, payload: InboxEventDetail['payload'] = PAYLOAD): InboxEventDetail {
  return { ...event, api_version: '2025-03-31.basil', livemode: false, created: '2026-12-01T09:59:58Z', payload };
}

function page(routes: Parameters<typeof fakeApi>[0], url = '/admin/webhooks') {
  const api = fakeApi(routes);
  vi.stubGlobal('fetch', api.fetch);
  stripeService.setAuth({ token: 'admin-token', userId: 1, role: 'admin' });
  renderPage(<WebhooksPage />, { url, path: '/admin/webhooks' });
  return api;
}

afterEach(() => {
  vi.unstubAllGlobals();
  stripeService.setAuth(null);
});

describe('<WebhooksPage>', () => {
  it('shows failed events first, a page of 20 at a time, as the admin', async () => {
    const api = page({ [`GET ${URL}`]: { body: { data: [FAILED], has_more: false, next_cursor: null } } });
    expect(screen.getByRole('status')).toHaveTextContent('Loading events…');
    const table = await screen.findByTestId('inbox-table');
    expect(within(table).getByText('evt_failed1')).toBeInTheDocument();
    expect(within(table).getByText('Failed')).toBeInTheDocument();
    const [asked] = api.sent('GET', URL);
    expect(asked?.query.get('status')).toBe('failed');
    expect(asked?.query.get('limit')).toBe('20');
    expect(asked?.headers.get('Authorization')).toBe('Bearer admin-token');
    expect(screen.getByLabelText('Status')).toHaveValue('failed');
  });

  it('says when no event has the status, and asks again for another status', async () => {
    const api = page({ [`GET ${URL}`]: { body: { data: [], has_more: false, next_cursor: null } } });
    expect(await screen.findByTestId('inbox-empty')).toHaveTextContent('No failed events.');
    await userEvent.selectOptions(screen.getByLabelText('Status'), 'dead');
    expect(await screen.findByText('No dead events.')).toBeInTheDocument();
    await userEvent.selectOptions(screen.getByLabelText('Status'), 'all');
    expect(await screen.findByText('No events yet.')).toBeInTheDocument();
    expect(api.sent('GET', URL).map((call) => call.query.get('status'))).toEqual(['failed', 'dead', null]);
  });

  it('shows the problem when the inbox cannot be loaded, and tries again on demand', async () => {
    let calls = 0;
    page({
      [`GET ${URL}`]: () => {
        calls += 1;
        return calls === 1
          ? problem(403, 'forbidden', 'Admins only.')
          : { body: { data: [FAILED], has_more: false, next_cursor: null } };
      },
    });
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The inbox could not be loaded: You are not allowed to do this with the account you signed in with.',
    );
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('inbox-table')).toBeInTheDocument();
  });

  it('pages older events by the cursor', async () => {
    const older = { ...FAILED, id: 'evt_older' };
    const api = page({
      [`GET ${URL}`]: (request) =>
        request.query.get('cursor') === 'c2'
          ? { body: { data: [older], has_more: false, next_cursor: null } }
          : { body: { data: [FAILED], has_more: true, next_cursor: 'c2' } },
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Show older events' }));
    expect(await screen.findByText('evt_older')).toBeInTheDocument();
    expect(screen.getByText('evt_failed1')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Show older events' })).not.toBeInTheDocument();
    expect(api.sent('GET', URL).map((call) => call.query.get('cursor'))).toEqual([null, 'c2']);
  });

  it('replays an event only once confirmed, with an idempotency key, and says what became of it', async () => {
    const replayed: InboxEvent = { ...FAILED, status: 'pending', attempts: 0, last_error: null };
    const answer = deferred<Answer>();
    let now = FAILED;
    const api = page({
      [`GET ${URL}`]: (request) => {
        const data = [now].filter((event) => event.status === request.query.get('status'));
        return { body: { data, has_more: false, next_cursor: null } };
      },
      [`GET ${URL}/evt_failed1`]: () => ({ body: detailOf(now) }),
      [`POST ${URL}/evt_failed1/replay`]: async () => {
        now = replayed;
        return answer.promise;
      },
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Details of evt_failed1' }));
    const detail = screen.getByTestId('event-detail');
    expect(within(detail).getByRole('heading', { level: 2 })).toHaveFocus();
    expect(within(detail).getByTestId('event-error')).toHaveTextContent('carries no object');
    expect(within(detail).getByTestId('event-attempts')).toHaveTextContent('3');

    const replay = within(detail).getByRole('button', { name: 'Replay event' });
    await userEvent.click(replay);
    let dialog = screen.getByRole('alertdialog', { name: 'Replay evt_failed1?' });
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await userEvent.keyboard('{Escape}');
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();
    expect(replay).toHaveFocus();
    expect(api.sent('POST', `${URL}/evt_failed1/replay`)).toHaveLength(0);

    await userEvent.click(replay);
    dialog = screen.getByRole('alertdialog');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Replay' }));
    expect(within(dialog).getByRole('button', { name: 'Replaying…' })).toHaveAttribute('aria-disabled', 'true');
    answer.resolve({ body: replayed });

    await waitFor(() =>
      expect(screen.getByTestId('replay-outcome')).toHaveTextContent(
        'Replayed: evt_failed1 is queued again (status pending, 0 attempts so far).',
      ),
    );
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();
    expect(within(detail).getByTestId('event-status')).toHaveTextContent('Pending');
    // Asked again, the failed list no longer has it; the detail keeps what the replay said.
    expect(await screen.findByTestId('inbox-empty')).toHaveTextContent('No failed events.');
    expect(within(detail).getByTestId('event-status')).toHaveTextContent('Pending');
    const [sent] = api.sent('POST', `${URL}/evt_failed1/replay`);
    expect(sent?.headers.get('Idempotency-Key')).toMatch(/^[0-9a-f]{32}$/);
    expect(sent?.headers.get('Authorization')).toBe('Bearer admin-token');
  });

  it('watches a replayed event until it settles, though the list it came from no longer has it', async () => {
    let now = FAILED;
    const api = page({
      [`GET ${URL}/evt_failed1`]: () => ({ body: detailOf(now) }),
      [`GET ${URL}`]: (request) => {
        const data = [now].filter((event) => event.status === request.query.get('status'));
        return { body: { data, has_more: false, next_cursor: null } };
      },
      [`POST ${URL}/evt_failed1/replay`]: () => {
        now = { ...FAILED, status: 'pending', attempts: 0, last_error: null };
        setTimeout(() => {
          now = { ...FAILED, attempts: 1 }; // the worker tried it again, and it failed again
        }, 100);
        return { body: now };
      },
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Details of evt_failed1' }));
    await userEvent.click(screen.getByRole('button', { name: 'Replay event' }));
    await userEvent.click(screen.getByRole('button', { name: 'Replay' }));
    const detail = screen.getByTestId('event-detail');
    await waitFor(() => expect(within(detail).getByTestId('event-status')).toHaveTextContent('Pending'));
    await waitFor(() => expect(within(detail).getByTestId('event-status')).toHaveTextContent('Failed'), {
      timeout: 5000,
    });
    expect(within(detail).getByTestId('event-attempts')).toHaveTextContent('1');
    // The detail, too, was asked again while the event was pending.
    expect(api.sent('GET', `${URL}/evt_failed1`).length).toBeGreaterThan(1);
  });

  it('shows the payload, personal values masked, in a section that opens and closes', async () => {
    const api = page({
      [`GET ${URL}`]: { body: { data: [FAILED], has_more: false, next_cursor: null } },
      [`GET ${URL}/evt_failed1`]: { body: detailOf(FAILED) },
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Details of evt_failed1' }));
    const payload = screen.getByTestId('event-payload');
    const summary = within(payload).getByText('Payload (personal data masked)');
    expect(payload).not.toHaveAttribute('open');

    // A native <details>: its summary opens it by Enter or Space too (the browser tests press them).
    await userEvent.click(summary);
    expect(payload).toHaveAttribute('open');
    const json = await within(payload).findByTestId('payload-json');
    expect(JSON.parse(json.textContent ?? '')).toEqual(PAYLOAD);
    expect(json).toHaveTextContent('"customer_email_address": "[personal data]"');
    expect(within(payload).getByTestId('event-envelope')).toHaveTextContent('in test mode, API version 2025-03-31.basil.');
    const [asked] = api.sent('GET', `${URL}/evt_failed1`);
    expect(asked?.headers.get('Authorization')).toBe('Bearer admin-token');

    await userEvent.click(summary);
    expect(payload).not.toHaveAttribute('open');
  });

  it('says when retention removed the payload', async () => {
    page({
      [`GET ${URL}`]: { body: { data: [FAILED], has_more: false, next_cursor: null } },
      [`GET ${URL}/evt_failed1`]: { body: detailOf(FAILED, null) },
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Details of evt_failed1' }));
    await userEvent.click(screen.getByText('Payload (personal data masked)'));
    expect(await screen.findByTestId('payload-removed')).toHaveTextContent('The payload was removed by retention');
    expect(screen.queryByTestId('payload-json')).not.toBeInTheDocument();
  });

  it('shows the payload loading, then the problem when it cannot be loaded, and tries again on demand', async () => {
    const answer = deferred<Answer>();
    let calls = 0;
    page({
      [`GET ${URL}`]: { body: { data: [FAILED], has_more: false, next_cursor: null } },
      [`GET ${URL}/evt_failed1`]: () => {
        calls += 1;
        return calls === 1 ? answer.promise : { body: detailOf(FAILED) };
      },
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Details of evt_failed1' }));
    const payload = screen.getByTestId('event-payload');
    await userEvent.click(within(payload).getByText('Payload (personal data masked)'));
    expect(within(payload).getByRole('status')).toHaveTextContent('Loading the payload…');

    answer.resolve(problem(503, 'unavailable', 'The service is busy.'));
    expect(await within(payload).findByRole('alert')).toHaveTextContent('The payload could not be loaded:');
    // The facts the list gave stay shown meanwhile.
    expect(within(screen.getByTestId('event-detail')).getByTestId('event-attempts')).toHaveTextContent('3');
    await userEvent.click(within(payload).getByRole('button', { name: 'Try again' }));
    expect(await within(payload).findByTestId('payload-json')).toHaveTextContent('"type": "charge.dispute.created"');
  });

  it('keeps the dialog open with the problem when the replay fails', async () => {
    page({
      [`GET ${URL}`]: { body: { data: [FAILED], has_more: false, next_cursor: null } },
      [`POST ${URL}/evt_failed1/replay`]: problem(404, 'not_found', 'No event evt_failed1 in the inbox.'),
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Details of evt_failed1' }));
    await userEvent.click(screen.getByRole('button', { name: 'Replay event' }));
    await userEvent.click(screen.getByRole('button', { name: 'Replay' }));
    const dialog = screen.getByRole('alertdialog');
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'The replay failed: No event evt_failed1 in the inbox.',
    );
  });
});
