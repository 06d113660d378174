/** Development sign-in: act as a demo user or as the admin; or paste a token. */
import { type FormEvent, useId, useState } from 'react';
import { problemMessage } from '../lib/problems';
import { useSession } from '../lib/session';
import { isProblem } from '../services/stripe';

export function SignInPage({ onSignedIn }: { onSignedIn: (role: 'user' | 'admin') => void }) {
  const { signIn, signInWithToken } = useSession();
  const [userId, setUserId] = useState('1');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const userField = useId();
  const tokenField = useId();

  async function asRole(role: 'user' | 'admin') {
    const id = Number(userId);
    if (!Number.isSafeInteger(id) || id < 1) {
      setError('A user id is a whole number from 1.');
      return;
    }
    setBusy(true);
    setError(null);
    const answer = await signIn(id, role);
    setBusy(false);
    if (!isProblem(answer)) {
      onSignedIn(answer.role);
    } else if (answer.status === 404) {
      setError('Development sign-in is off on this service: paste a token instead.');
    } else {
      setError(problemMessage(answer));
    }
  }

  function withToken(event: FormEvent) {
    event.preventDefault();
    const signedIn = signInWithToken(token);
    if (typeof signedIn === 'string') setError(signedIn);
    else onSignedIn(signedIn.role);
  }

  return (
    <>
      <h1 tabIndex={-1}>Sign in</h1>
      <p className="notice">
        Development sign-in: choose who to be. The service offers it only while it signs tokens
        with the public development secret, never in production.
      </p>
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
      <section className="card">
        <h2>Demo user or admin</h2>
        <form
          className="inline-form"
          onSubmit={(event) => {
            event.preventDefault();
            void asRole('user');
          }}
        >
          <div className="field">
            <label htmlFor={userField}>User id</label>
            <input
              id={userField}
              inputMode="numeric"
              value={userId}
              onChange={(event) => setUserId(event.target.value)}
            />
          </div>
          <button type="submit" className="button primary" disabled={busy}>
            Sign in as user {userId}
          </button>
          <button
            type="button"
            className="button secondary"
            disabled={busy}
            onClick={() => void asRole('admin')}
          >
            Sign in as admin
          </button>
        </form>
      </section>
      <section className="card">
        <h2>With a token</h2>
        <form className="inline-form" onSubmit={withToken}>
          <div className="field grow">
            <label htmlFor={tokenField}>Bearer token (from `billing token --user ID`)</label>
            <input
              id={tokenField}
              value={token}
              autoComplete="off"
              spellCheck={false}
              onChange={(event) => setToken(event.target.value)}
            />
          </div>
          <button type="submit" className="button secondary" disabled={!token.trim()}>
            Use token
          </button>
        </form>
      </section>
    </>
  );
}
