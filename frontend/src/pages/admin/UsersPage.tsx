/**
 * `#/admin/users`: find a user by id, email or Stripe customer id (`?query=` in the URL, so
 * a search can be linked and Back returns to it); each result links to the user's page.
 */
import { type FormEvent, useId, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import '../../components/account/account.css';
import { ErrorNotice } from '../../components/ui/ErrorNotice';
import { Loading } from '../../components/ui/Loading';
import { TableScroll } from '../../components/ui/TableScroll';
import { problemFrom } from '../../lib/api';
import { formatCredits } from '../../lib/format';
import { useUserSearch } from './users/queries';

export function UsersPage() {
  const [params, setParams] = useSearchParams();
  const query = params.get('query')?.trim() ?? '';
  const search = useUserSearch(query);

  return (
    <>
      <h1 tabIndex={-1}>Users</h1>
      <section className="card" aria-labelledby="users-search">
        <h2 id="users-search">Find a user</h2>
        <SearchForm key={query} initial={query} onSearch={(wanted) => setParams({ query: wanted })} />
      </section>
      {query && (
        <section className="card" aria-labelledby="users-results" aria-busy={search.isFetching}>
          <h2 id="users-results">Results for “{query}”</h2>
          <Results query={query} search={search} />
        </section>
      )}
    </>
  );
}

function SearchForm({ initial, onSearch }: { initial: string; onSearch: (query: string) => void }) {
  const [text, setText] = useState(initial);
  const [empty, setEmpty] = useState(false);
  const fieldId = useId();

  function submit(event: FormEvent) {
    event.preventDefault();
    const wanted = text.trim();
    setEmpty(!wanted);
    if (wanted) onSearch(wanted);
  }

  return (
    <>
      <form className="inline-form search-form" role="search" aria-label="Users" onSubmit={submit}>
        <div className="field">
          <label htmlFor={fieldId}>User id, email or Stripe customer id</label>
          <input
            id={fieldId}
            type="search"
            value={text}
            maxLength={320}
            autoComplete="off"
            spellCheck={false}
            placeholder="42, ada@example.com, cus_…"
            aria-invalid={empty || undefined}
            onChange={(event) => setText(event.target.value)}
          />
        </div>
        <button type="submit" className="button primary">
          Search
        </button>
      </form>
      {empty && (
        <p className="notice notice-error" role="alert">
          Type a user id, an email or a Stripe customer id to search for.
        </p>
      )}
    </>
  );
}

function Results({ query, search }: { query: string; search: ReturnType<typeof useUserSearch> }) {
  if (search.isPending) return <Loading>Searching…</Loading>;
  if (search.isError) {
    const problem = problemFrom(search.error);
    if (problem.status === 422) {
      return (
        <div className="notice notice-error" role="alert" data-testid="users-invalid">
          <p className="notice-text">
            “{query}” is not a user id, an email or a Stripe customer id. Search by a user id (digits
            only, like 42), an email (with an @) or a customer id (starting cus_).
          </p>
        </div>
      );
    }
    return <ErrorNotice error={search.error} what="The search failed" onRetry={() => void search.refetch()} />;
  }
  const users = search.data?.data ?? [];
  if (users.length === 0) {
    return (
      <p className="muted" data-testid="users-empty">
        No user matches “{query}”.
      </p>
    );
  }
  return (
    <TableScroll label="Table of users found">
      <table className="table" data-testid="users-table">
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Email</th>
            <th scope="col">Name</th>
            <th scope="col">Stripe customer</th>
            <th scope="col" className="number">
              Balance
            </th>
          </tr>
        </thead>
        <tbody>
          {users.map((user) => (
            <tr key={user.user_id}>
              <th scope="row">
                <Link to={`/admin/users/${user.user_id}`}>User {user.user_id}</Link>
              </th>
              <td className="wrap">{user.email ?? <span className="muted">—</span>}</td>
              <td className="wrap">{user.name ?? <span className="muted">—</span>}</td>
              <td className="mono wrap">{user.stripe_customer_id ?? <span className="muted">—</span>}</td>
              <td className="number">{formatCredits(user.balance)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
