/* The page's settings (data-* attributes that webapp/widget.py writes on #livecheck) and the client token. */

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
    recordingFallback: data.recordingFallback === 'on',
    problem: data.problem || '',
  });
}

/** The client token arrives in the URL fragment (#token=...), so it is not sent in Referer headers or server
 * logs; the query is accepted too. Either way it is removed from the address bar at once. */
export function takeToken() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const query = new URLSearchParams(location.search);
  const token = fragment.get('token') || query.get('token') || '';
  query.delete('token');
  const search = query.toString();
  history.replaceState(null, '', location.pathname + (search ? '?' + search : ''));
  return token;
}
