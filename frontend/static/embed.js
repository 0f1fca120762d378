/* livecheck embed script: LiveCheck.mount(element, {widgetUrl}) -> Promise<{sessionId, status}>.
 *
 *   <div id="check"></div>
 *   <script src="https://livecheck.example/embed.js"></script>
 *   <script>
 *     LiveCheck.mount(document.getElementById('check'), {widgetUrl: urlFromYourBackend})
 *       .then(({sessionId, status}) => { ... ask your backend: GET /v1/sessions/{sessionId} ... });
 *   </script>
 *
 * The status in the message is a convenience for the page; the authoritative result is what your backend reads
 * with its API key. Messages are accepted only from the widget's own origin and its own iframe.
 */
(function () {
  'use strict';

  function mount(element, options) {
    if (typeof element === 'string') element = document.querySelector(element);
    if (!element) return Promise.reject(new Error('LiveCheck.mount: element not found'));
    if (!options || !options.widgetUrl) return Promise.reject(new Error('LiveCheck.mount: widgetUrl is required'));
    var url = new URL(options.widgetUrl, document.baseURI);
    var iframe = document.createElement('iframe');
    iframe.src = url.href;
    iframe.allow = 'camera';
    iframe.title = options.title || 'Liveness check';
    iframe.referrerPolicy = 'no-referrer';
    iframe.style.border = '0';
    iframe.style.width = options.width || '100%';
    iframe.style.maxWidth = '480px';
    iframe.style.height = options.height || '720px';
    iframe.style.display = 'block';

    return new Promise(function (resolve) {
      function onMessage(event) {
        if (event.origin !== url.origin || event.source !== iframe.contentWindow) return;
        var data = event.data;
        if (!data || typeof data.type !== 'string' || data.type.indexOf('livecheck:') !== 0) return;
        var info = { sessionId: String(data.sessionId || ''), status: String(data.status || '') };
        if (data.type === 'livecheck:ready' && options.onReady) options.onReady(info);
        else if (data.type === 'livecheck:progress' && options.onProgress) options.onProgress(info);
        else if (data.type === 'livecheck:completed') {
          window.removeEventListener('message', onMessage);
          resolve(info);
        }
      }
      window.addEventListener('message', onMessage);
      element.appendChild(iframe);
    });
  }

  window.LiveCheck = Object.freeze({ mount: mount, version: 1 });
})();
