/**
 * Under a paged list's rows: what went wrong since its first page came (a later page, or
 * a refresh), and "Show older", which asks for the next page by its cursor.
 */
import { ErrorNotice } from './ErrorNotice';

/** What of TanStack Query's infinite query this needs. */
export interface PagedQuery {
  isError: boolean;
  isFetchNextPageError: boolean;
  error: unknown;
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => unknown;
}

export interface MoreRowsProps {
  query: PagedQuery;
  /** The button's words. */
  label?: string;
  /** What is said when the next page failed ("More events could not be loaded"). */
  moreFailed: string;
  /** What is said when a refresh failed; nothing when not given (the rows stay). */
  refreshFailed?: string;
}

export function MoreRows({ query, label = 'Show older', moreFailed, refreshFailed }: MoreRowsProps) {
  const failed = query.isFetchNextPageError ? moreFailed : refreshFailed;
  return (
    <>
      {query.isError && failed && <ErrorNotice error={query.error} what={failed} />}
      {query.hasNextPage && (
        <button
          type="button"
          className="button secondary"
          disabled={query.isFetchingNextPage}
          onClick={() => void query.fetchNextPage()}
        >
          {query.isFetchingNextPage ? 'Loading…' : label}
        </button>
      )}
    </>
  );
}
