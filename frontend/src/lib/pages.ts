/**
 * The service's lists come a page at a time (`?cursor=&limit=`, answered with `data`,
 * `has_more` and `next_cursor`); the app reads them with TanStack Query's infinite
 * queries. What every such list shares: the page size, how the next page is asked for,
 * the rows of the pages loaded, and whether a row is still in flight.
 */

/** Rows per page of every list (the service allows up to 50 or 100). */
export const PAGE_SIZE = 20;
/** How often a list with something in flight (pending) looks again. */
export const POLL_MS = 2000;

/** An infinite query's paging: from the first page, on by each page's cursor. */
export const byCursor = {
  initialPageParam: null as string | null,
  getNextPageParam: (last: { has_more: boolean; next_cursor: string | null }) => (last.has_more ? last.next_cursor : null),
};

/** The rows of every loaded page, in order. */
export function rows<T>(pages: { data: T[] }[] | undefined): T[] {
  return pages?.flatMap((page) => page.data) ?? [];
}

/** Whether a loaded row is still pending (being processed or sent). */
export function anyPending(pages: { data: { status: string }[] }[] | undefined): boolean {
  return rows(pages).some((row) => row.status === 'pending');
}
