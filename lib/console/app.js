// The console's router: one page per hash route, each rendered into <main> and stopped (its polling,
// its event stream) when another page is opened.
import { renderDeadLetter, renderDeadLetters } from './dead-letters.js';
import { renderExportRuns } from './exports.js';
import { renderJob } from './job.js';
import { renderJobs } from './jobs.js';
import { errorBlock } from './ui.js';

const ROUTES = [
  { pattern: /^#\/jobs\/([\w-]+)$/, page: 'jobs', render: renderJob },
  { pattern: /^#\/dead-letters\/([\w-]+)$/, page: 'dead-letters', render: renderDeadLetter },
  { pattern: /^#\/dead-letters(?:\?.*)?$/, page: 'dead-letters', render: renderDeadLetters },
  { pattern: /^#\/exports(?:\?.*)?$/, page: 'exports', render: renderExportRuns },
  { pattern: /^#\/jobs(?:\?.*)?$/, page: 'jobs', render: renderJobs },
];

let current;

async function show() {
  current?.abort();
  current = new AbortController();
  const hash = location.hash || '#/jobs';
  const route = ROUTES.find((r) => r.pattern.test(hash)) ?? ROUTES.at(-1);
  const [, param] = hash.match(route.pattern) ?? [];
  const query = new URLSearchParams(hash.split('?')[1] ?? '');
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.page === route.page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  main.replaceChildren();
  try {
    await route.render(main, { param: param && decodeURIComponent(param), query }, current.signal);
  } catch (error) {
    if (!current.signal.aborted) main.append(errorBlock(error));
  }
  const heading = main.querySelector('h1');
  if (heading) document.title = `${heading.textContent} · Matchbridge console`;
  // Move focus to the new page, as a page load would, so keyboard and screen-reader users start there.
  main.focus();
}

window.addEventListener('hashchange', show);
show();
