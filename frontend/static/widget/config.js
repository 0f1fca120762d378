/* The page's settings (data-* attributes that webapp/widget.py writes on #livecheck), the client token and the
 * embedding page's options (the URL fragment, which never reaches the server). */
import { Theme } from './constants.js';

export function parseJson(text, fallback) {
  try { return JSON.parse(text); } catch (e) { return fallback; }
}

/** Everything the server told the page, read once. */
export function readConfig(root) {
  const data = root.dataset;
  return Object.freeze({
    sessionId: data.sessionId,
    origins: parseJson(data.allowedOrigins, []),
    iceServers: parseJson(data.iceServers, []),
    languages: parseJson(data.languages, ['en']),
    i18nBase: data.i18nBase,
    apiBase: data.apiBase || '',
    connectTimeoutMs: Number(data.connectTimeoutMs) || 10000,
    positioningTimeoutMs: Number(data.positioningTimeoutMs) || 30000,
    recordingFallback: data.recordingFallback === 'on',
    storesImages: data.storesImages === 'on',
    light: data.light === 'on',
    problem: data.problem || '',
  });
}

const MAX_OVERRIDE_CHARS = 500;

/** String overrides from the embedding page: `{key: text}`, strings only, each at most 500 characters. */
function overridesOf(text) {
  const parsed = parseJson(text || '{}', {});
  const out = {};
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return out;
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'string' && value.trim() && value.length <= MAX_OVERRIDE_CHARS) out[key] = value;
  }
  return out;
}

/** A return URL is followed only when its origin is one the session allows (no open redirect on this origin). */
function returnUrlOf(text, origins) {
  if (!text) return '';
  try {
    const url = new URL(text);
    return origins.includes(url.origin) ? url.href : '';
  } catch (e) {
    return '';
  }
}

/** The client token arrives in the URL fragment (#token=...), so it is not sent in Referer headers or server
 * logs; the query is accepted too. Either way it is removed from the address bar at once. The fragment also
 * carries the embedding page's options: `lang`, `theme`, `strings` (JSON overrides) and `return` (a URL). */
export function takeOptions(origins) {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const query = new URLSearchParams(location.search);
  const token = fragment.get('token') || query.get('token') || '';
  query.delete('token');
  const search = query.toString();
  history.replaceState(null, '', location.pathname + (search ? '?' + search : ''));
  const theme = fragment.get('theme') || query.get('theme') || Theme.AUTO;
  return Object.freeze({
    token: token,
    lang: fragment.get('lang') || query.get('lang') || '',
    theme: Object.values(Theme).includes(theme) ? theme : Theme.AUTO,
    overrides: overridesOf(fragment.get('strings')),
    returnUrl: returnUrlOf(fragment.get('return'), origins),
  });
}
