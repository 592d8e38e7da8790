// Small helpers shared by the pages: building elements, calling the API, announcing, confirming.

/** An element with attributes and children; strings become text nodes, never HTML. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name in element && typeof value !== 'string') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** An API error, with the `{code, message}` the API answered. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API (same origin: the console is served next to it, or by a proxy to it). */
export async function api(path, init = {}) {
  const response = await fetch(path, { headers: { accept: 'application/json' }, ...init });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, body.code ?? 'HTTP_ERROR', body.message ?? response.statusText);
  }
  return { status: response.status, body };
}

/** Tells screen readers what changed, once, politely. */
export function announce(text) {
  const region = document.getElementById('announcer');
  region.textContent = '';
  // A fresh text node after clearing, so the same message twice is read twice.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Asks for a confirmation in a modal dialog; resolves true when confirmed. */
export function confirmAction(title, text) {
  const dialog = document.getElementById('confirm');
  dialog.querySelector('#confirm-title').textContent = title;
  dialog.querySelector('#confirm-text').textContent = text;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
    dialog.showModal();
  });
}

const numberFormat = new Intl.NumberFormat('en');

/** A count for people: grouped digits, or an em dash when unknown. */
export const count = (value) => (value === null || value === undefined ? '—' : numberFormat.format(value));

/** A time for people, in the browser's zone; an em dash when absent. */
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** A duration in seconds as `1 h 2 min`, `3 min 4 s` or `5 s`. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

/** A job status as a word with its colour. */
export const statusBadge = (status) => h('span', { class: `status status-${status}` }, status);

/** The error of a failed load, in place of the page's content. */
export function errorBlock(error) {
  const text =
    error instanceof ApiError ? `${error.message} (${error.code}, HTTP ${error.status})` : String(error);
  return h('p', { class: 'error', role: 'alert' }, `Could not load: ${text}`);
}
