// Stands in for the npm package react-style-singleton, which GraphiQL's dialogs and menus
// reach through react-remove-scroll-bar: it injects a <style> element to lock the page's
// scrolling while one is open, and `style-src 'self'` refuses inline <style> elements.
// Here it injects nothing; app.css holds the one rule that matters for this page
// (body[data-scroll-locked]). The page never scrolls (GraphiQL fills the window), so
// the scroll-bar gap the package measures is always 0.
const noop = () => {};

export const stylesheetSingleton = () => ({ add: noop, remove: noop });
export const styleHookSingleton = () => noop;
export const styleSingleton = () => () => null;
