/**
 * A new page moves focus to its heading, so keyboard and screen reader users start there.
 * A page that is still loading (a lazy chunk, a fetch) gets focus on its heading as soon as
 * that appears; a change of the query alone (a filter, a cursor) moves nothing.
 */
import { type RefObject, useEffect } from 'react';
import { useLocation } from 'react-router';

export function usePageFocus(main: RefObject<HTMLElement | null>): void {
  const { pathname } = useLocation();
  useEffect(() => {
    const area = main.current;
    if (!area) return;
    const focusHeading = (): boolean => {
      const heading = area.querySelector<HTMLElement>('h1');
      if (!heading) return false;
      heading.focus();
      return true;
    };
    if (focusHeading()) return;
    const watch = new MutationObserver(() => {
      if (focusHeading()) watch.disconnect();
    });
    watch.observe(area, { childList: true, subtree: true });
    return () => watch.disconnect();
  }, [main, pathname]);
}
