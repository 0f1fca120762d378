/* livecheck widget, the entry point (a native ES module, no build step): reads the page's settings and the
 * embedding page's options, fits the screen, loads the strings and starts the flow (check.js). docs/protocol.md
 * describes what it speaks to the server, docs/embedding.md what it says to the embedding page. */
import { ErrorScreen } from './constants.js';
import { readConfig, takeOptions } from './config.js';
import { loadStrings } from './i18n.js';
import { applyLook, Fit } from './layout.js';
import { createNotifier, listenToHost } from './messaging.js';
import { findUi } from './screens.js';
import { Widget } from './check.js';

async function main() {
  const ui = findUi(document);
  const config = readConfig(ui.root);
  const options = takeOptions(config.origins); // before anything else: the token leaves the address bar at once
  applyLook(options.theme, options.lang || 'en', 'ltr');
  // The first message the embedding page hears (embed.js tells a refused frame by its silence).
  const notify = createNotifier(config.sessionId, config.origins);
  const fit = new Fit(ui, (px) => notify.height(px));
  listenToHost(config.origins, (width, height) => fit.setViewport(width, height));
  const { lang, dir, t } = await loadStrings(config.i18nBase, config.languages, options.lang, options.overrides);
  applyLook(options.theme, lang, dir);
  document.title = t('title');
  ui.bar.setAttribute('aria-label', t('check.progress_label'));
  ui.privacy.textContent = t(config.storesImages ? 'intro.privacy_audit' : 'intro.privacy');
  const widget = new Widget(ui, config, options, t, fit);
  window.addEventListener('offline', () => {
    if (widget.connected && !widget.finished) widget.showError(ErrorScreen.NETWORK);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') widget.escape();
  });
  widget.start();
}

main();
