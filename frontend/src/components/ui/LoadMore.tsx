/** "Show more" under a paged list: the next page by its cursor, one page at a time. */

export interface LoadMoreProps {
  hasMore: boolean;
  loading: boolean;
  onMore: () => void;
  label?: string;
}

export function LoadMore({ hasMore, loading, onMore, label = 'Show older' }: LoadMoreProps) {
  if (!hasMore) return null;
  return (
    <button type="button" className="button secondary" disabled={loading} onClick={onMore}>
      {loading ? 'Loading…' : label}
    </button>
  );
}
