/** The service's problems (problem+json) in words a customer or an admin can act on. */
import type { Problem } from '../services/stripe';

const BY_CODE: Record<string, string> = {
  unauthenticated: 'Your session has ended. Please sign in again.',
  forbidden: 'You are not allowed to do this with the account you signed in with.',
  network_error: 'The billing service could not be reached. Check your connection and try again.',
  rate_limited: 'Too many requests right now. Please wait a moment and try again.',
  service_unavailable: 'The billing service is busy or down for a moment. Please try again.',
  stripe_error: 'Our payment provider did not answer as expected. Please try again shortly.',
  idempotency_in_progress: 'This request is still being processed. Please wait a moment.',
};

/** The problem's own sentence where the service wrote one for people, else a general one. */
export function problemMessage(problem: Problem): string {
  const known = BY_CODE[problem.code];
  if (known) return known;
  if (problem.detail && problem.status < 500) return problem.detail;
  if (problem.status >= 500) return 'Something went wrong on our side. Please try again.';
  return problem.title;
}
