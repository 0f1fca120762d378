/* livecheck widget, the entry point (a native ES module, no build step): reads the page's settings, loads the
 * strings and starts the flow (check.js). docs/protocol.md describes what it speaks to the server. */
import { ErrorScreen, Screen } from './constants.js';
import { readConfig, takeToken } from './config.js';
import { loadStrings } from './i18n.js';
import { findUi } from './screens.js';
import { Widget } from './check.js';

async function main() {
  const ui = findUi(document);
  const config = readConfig(ui.root);
  const token = takeToken(); // before anything else: the token leaves the address bar at once
  const { lang, t } = await loadStrings(config.i18nBase, config.languages);
  document.documentElement.lang = lang;
  document.title = t('title');
  const widget = new Widget(ui, config, token, t);
  window.addEventListener('offline', () => {
    if (widget.connected && !widget.finished) widget.showError(ErrorScreen.NETWORK);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && ui.root.dataset.screen === Screen.CHECK && !widget.recording) widget.cancel();
  });
  widget.start();
}

main();
