/* Strings: one JSON catalog per language (frontend/i18n), the first language the server lists is the fallback;
 * the embedding page may override any string by key. */

/** Traditional Chinese tags: not served the Simplified catalogue. */
const TRADITIONAL = /^zh-(hant|tw|hk|mo)\b/;

/** The catalogue for one BCP 47 tag, if there is one: exact (any case), then its language alone. */
function match(tag, available) {
  const wanted = String(tag || '').toLowerCase();
  if (!wanted) return null;
  const exact = available.find((lang) => lang.toLowerCase() === wanted);
  if (exact) return exact;
  if (TRADITIONAL.test(wanted)) return null;
  const base = wanted.split('-')[0];
  return available.find((lang) => lang.toLowerCase().split('-')[0] === base) || null;
}

/** The user's language among those available: the embedding page's choice first, then the browser's. */
export function pickLanguage(available, forced) {
  const wanted = (forced ? [forced] : []).concat(navigator.languages || [navigator.language || available[0]]);
  for (const tag of wanted) {
    const found = match(tag, available);
    if (found) return found;
  }
  return available[0];
}

async function loadCatalog(base, lang) {
  const res = await fetch(base + encodeURIComponent(lang) + '.json', { credentials: 'omit' });
  if (!res.ok) throw new Error('catalog ' + lang + ': HTTP ' + res.status);
  return res.json();
}

/** `t(key, {name: value})`: the override, else the string in the chosen language, else the fallback's, else the
 * key itself. */
export function translator(strings, fallbackStrings, overrides) {
  const own = overrides || {};
  return (key, vars) => {
    let text = own[key] || strings[key] || fallbackStrings[key] || key;
    for (const [name, value] of Object.entries(vars || {})) text = text.split('{' + name + '}').join(String(value));
    return text;
  };
}

/** Loads the catalogs; when they cannot be loaded the keys show through and the check still works. */
export async function loadStrings(base, languages, forced, overrides) {
  const available = languages.length ? languages : ['en'];
  const lang = pickLanguage(available, forced);
  let strings = {};
  let fallbackStrings = {};
  try {
    fallbackStrings = await loadCatalog(base, available[0]);
    strings = lang === available[0] ? fallbackStrings : await loadCatalog(base, lang);
  } catch (err) { /* keys show through */ }
  const known = {};
  for (const [key, text] of Object.entries(overrides || {})) if (key in fallbackStrings) known[key] = text;
  return { lang: strings.lang || lang, dir: strings.dir || 'ltr', t: translator(strings, fallbackStrings, known) };
}
