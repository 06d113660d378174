/**
 * Who is signed in to the demo app. Development only: the service's `/api/dev/sign-in`
 * issues a token for any user or an admin while it signs with the public development
 * secret; elsewhere a token from `billing token` can be pasted. Kept for the browser tab
 * (sessionStorage), so it survives the round trip through Stripe Checkout.
 */
import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import { type Auth, type Problem, stripeService } from '../services/stripe';

export interface Session extends Auth {
  expiresAt: string;
}

interface SessionState {
  session: Session | null;
  /** The new session, or the service's problem. */
  signIn: (userId: number, role: Auth['role']) => Promise<Session | Problem>;
  /** The new session, or why the token cannot be used. */
  signInWithToken: (token: string) => Session | string;
  signOut: () => void;
}

const KEY = 'billing.session';
const SessionContext = createContext<SessionState | null>(null);

function restore(): Session | null {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return saved && Date.parse(saved.expiresAt) > Date.now() ? saved : null;
  } catch {
    return null;
  }
}

/** The claims of a JWT, unverified (the service verifies it on every call). */
export function readToken(token: string): Session | null {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as { sub?: string; role?: string; exp?: number };
    const userId = Number(claims.sub);
    if (!Number.isSafeInteger(userId) || userId < 1 || !claims.exp) return null;
    if (claims.role !== 'user' && claims.role !== 'admin') return null;
    const expiresAt = new Date(claims.exp * 1000).toISOString();
    return { token, userId, role: claims.role, expiresAt };
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(() => {
    const saved = restore();
    stripeService.setAuth(saved);
    return saved;
  });

  const keep = useCallback((next: Session | null) => {
    stripeService.setAuth(next);
    if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
    else sessionStorage.removeItem(KEY);
    setSession(next);
  }, []);

  const value = useMemo<SessionState>(
    () => ({
      session,
      signIn: async (userId, role) => {
        const answer = await stripeService.devSignIn({ user_id: userId, role });
        if (!answer.success) return answer.error;
        const { token, user_id, role: given, expires_at: expiresAt } = answer.data;
        const next: Session = { token, userId: user_id, role: given, expiresAt };
        keep(next);
        return next;
      },
      signInWithToken: (token) => {
        const read = readToken(token.trim());
        if (!read) return 'That is not a billing token (see `billing token --help`).';
        if (Date.parse(read.expiresAt) <= Date.now()) return 'That token has expired.';
        keep(read);
        return read;
      },
      signOut: () => keep(null),
    }),
    [session, keep],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession needs a <SessionProvider>');
  return state;
}
