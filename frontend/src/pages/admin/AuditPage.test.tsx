import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, problem } from '../../test/fakeApi';
import { renderPage } from '../../test/render';
import { AuditPage } from './AuditPage';
import type { AuditChain, AuditEntry } from '../../lib/schemas';

const HASH = 'a3f1'.repeat(16);
const SEALED: AuditChain = { verified: true, sealed: 1234, unsealed: 0, head_seq: 1234, head_hash: HASH, broken: null };
const ENTRY: AuditEntry = {
  id: 7,
  created_at: '2026-12-01T10:00:00Z',
  actor: 'admin:1',
  action: 'webhook.replayed',
  target: 'evt_1',
  user_id: null,
  request_id: 'req_1',
  caller_request_id: null,
  details: { type: 'charge.dispute.created' },
  seq: 1234,
  prev_hash: null,
  hash: HASH,
};
const PAGE = { body: { data: [ENTRY], has_more: false, next_cursor: null } };

function page(routes: Parameters<typeof fakeApi>[0], url = '/admin/audit') {
  const api = fakeApi(routes);
  vi.stubGlobal('fetch', api.fetch);
  const rendered = renderPage(<AuditPage />, { url });
  return { api, router: rendered.router };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('<AuditPage>', () => {
  it('states the sealed, verified chain and lists entries', async () => {
    page({ 'GET /api/admin/audit/chain': { body: SEALED }, 'GET /api/admin/audit': PAGE });
    expect(screen.getByText('Verifying the chain…')).toBeInTheDocument();
    const chain = screen.getByTestId('audit-chain');
    await waitFor(() =>
      expect(chain).toHaveTextContent(`Sealed through seq 1,234, head hash ${HASH}, verified.`),
    );
    const row = (await screen.findByTestId('audit-table')).querySelector('tr[data-action="webhook.replayed"]');
    expect(row).toHaveTextContent('admin:1');
    expect(row).toHaveTextContent('evt_1');
  });

  it('says how many entries wait to be sealed', async () => {
    page({ 'GET /api/admin/audit/chain': { body: { ...SEALED, unsealed: 3 } }, 'GET /api/admin/audit': PAGE });
    expect(await screen.findByText(/3 newer entries wait to be sealed/)).toBeInTheDocument();
  });

  it('states where a broken chain breaks, and why', async () => {
    const broken = { ...SEALED, verified: false, sealed: 41, broken: { id: 50, seq: 42, reason: 'hash mismatch' } };
    page({ 'GET /api/admin/audit/chain': { body: broken }, 'GET /api/admin/audit': PAGE });
    const alert = await within(screen.getByTestId('audit-chain')).findByRole('alert');
    expect(alert).toHaveTextContent('Broken at seq 42: hash mismatch');
    expect(alert).toHaveAttribute('data-state', 'broken');
  });

  it("shows the chain's problem apart from the entries", async () => {
    page({ 'GET /api/admin/audit/chain': problem(500, 'internal_error', 'Boom'), 'GET /api/admin/audit': PAGE });
    expect(await within(screen.getByTestId('audit-chain')).findByRole('alert')).toHaveTextContent(
      'The chain could not be verified: Something went wrong on our side.',
    );
    expect(await screen.findByTestId('audit-table')).toBeInTheDocument();
  });

  it('sends the filters (times with their zone) and pages by the cursor', async () => {
    const { api } = page({
      'GET /api/admin/audit/chain': { body: SEALED },
      'GET /api/admin/audit': (request) =>
        request.query.get('cursor')
          ? { body: { data: [{ ...ENTRY, id: 6, action: 'credits.added' }], has_more: false, next_cursor: null } }
          : { body: { data: [ENTRY], has_more: true, next_cursor: 'n6' } },
    });
    await screen.findByTestId('audit-table');
    await userEvent.type(screen.getByLabelText('Actor'), 'admin:1');
    await userEvent.type(screen.getByLabelText('User id'), '42');
    await userEvent.type(screen.getByLabelText('From (your time)'), '2026-12-01T09:30');
    await userEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    await waitFor(() => expect(api.sent('GET', '/api/admin/audit')).toHaveLength(2));
    const filtered = api.sent('GET', '/api/admin/audit')[1];
    expect(filtered?.query.get('actor')).toBe('admin:1');
    expect(filtered?.query.get('user_id')).toBe('42');
    expect(filtered?.query.get('from')).toBe(new Date('2026-12-01T09:30').toISOString());
    expect(filtered?.query.get('to')).toBeNull();

    await userEvent.click(await screen.findByRole('button', { name: 'Show older entries' }));
    expect(await screen.findByText('credits.added')).toBeInTheDocument();
    expect(api.sent('GET', '/api/admin/audit')[2]?.query.get('cursor')).toBe('n6');
  });

  it('refuses a bad user id or an inverted range without asking', async () => {
    const { api } = page({ 'GET /api/admin/audit/chain': { body: SEALED }, 'GET /api/admin/audit': PAGE });
    await screen.findByTestId('audit-table');
    await userEvent.type(screen.getByLabelText('User id'), 'x');
    await userEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    expect(screen.getByRole('alert')).toHaveTextContent('A user id is a whole number from 1.');
    await userEvent.clear(screen.getByLabelText('User id'));
    await userEvent.type(screen.getByLabelText('From (your time)'), '2026-12-02T00:00');
    await userEvent.type(screen.getByLabelText('To, not included'), '2026-12-01T00:00');
    await userEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    expect(screen.getByRole('alert')).toHaveTextContent('“From” is after “To”.');
    expect(api.sent('GET', '/api/admin/audit')).toHaveLength(1);
  });

  it('says when no entry matches the filters in the URL', async () => {
    page(
      { 'GET /api/admin/audit/chain': { body: SEALED }, 'GET /api/admin/audit': { body: { data: [], has_more: false, next_cursor: null } } },
      '/admin/audit?action=nothing.here',
    );
    expect(await screen.findByTestId('audit-empty')).toHaveTextContent('No entries match these filters.');
    expect(screen.getByLabelText('Action')).toHaveValue('nothing.here');
  });
});
