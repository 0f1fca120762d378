/* Strings: one JSON catalog per language (frontend/i18n), the first language the server lists is the fallback. */

/** The user's language among those available: `?lang=` first, then the browser's preferences. */
export function pickLanguage(available) {
  const forced = new URLSearchParams(location.search).get('lang');
  const wanted = (forced ? [forced] : []).concat(navigator.languages || [navigator.language || available[0]]);
  for (const tag of wanted) {
    const base = String(tag || '').toLowerCase().split('-')[0];
    if (available.includes(base)) return base;
  }
  return available[0];
}

async function loadCatalog(base, lang) {
  const res = await fetch(base + encodeURIComponent(lang) + '.json', { credentials: 'omit' });
  if (!res.ok) throw new Error('catalog ' + lang + ': HTTP ' + res.status);
  return res.json();
}

/** `t(key, {name: value})`: the string in the chosen language, else the fallback's, else the key itself. */
export function translator(strings, fallbackStrings) {
  return (key, vars) => {
    let text = strings[key] || fallbackStrings[key] || key;
    for (const [name, value] of Object.entries(vars || {})) text = text.split('{' + name + '}').join(String(value));
    return text;
  };
}

/** Loads the catalogs; when they cannot be loaded the keys show through and the check still works. */
export async function loadStrings(base, languages) {
  const available = languages.length ? languages : ['en'];
  const lang = pickLanguage(available);
  let strings = {};
  let fallbackStrings = {};
  try {
    fallbackStrings = await loadCatalog(base, available[0]);
    strings = lang === available[0] ? fallbackStrings : await loadCatalog(base, lang);
  } catch (err) { /* keys show through */ }
  return { lang: strings.lang || lang, t: translator(strings, fallbackStrings) };
}
