/** What a page that threw while rendering (or whose code failed to load) shows instead. */
import { useRouteError } from 'react-router';

export function RouteErrorPage() {
  const error = useRouteError();
  const detail = error instanceof Error ? error.message : null;
  return (
    <main id="main" tabIndex={-1}>
      <h1 tabIndex={-1}>Something went wrong</h1>
      <p className="notice notice-error" role="alert">
        This page could not be shown{detail ? `: ${detail}` : '.'} Reload the page to try again.
      </p>
      <p>
        <a href="#/">Back to pricing</a>
      </p>
    </main>
  );
}
