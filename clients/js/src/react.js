/* <LiveCheck widgetUrl=... onCompleted=... onRetry=... />: a thin React component over the same core. A new
 * widgetUrl (a new session) mounts a new widget; unmounting the component unmounts the widget. Callbacks are read
 * when an event arrives, so passing new functions does not remount. */
import { createElement, useEffect, useRef } from 'react';
import { LiveCheckEvent, LiveCheckWidget } from './livecheck.js';

const CALLBACKS = { ready: 'onReady', progress: 'onProgress', completed: 'onCompleted', cancelled: 'onCancelled',
  error: 'onError', retry: 'onRetry' };

export function LiveCheck(props) {
  const host = useRef(null);
  const latest = useRef(props);
  latest.current = props;
  const { widgetUrl, language, colorScheme, height, fullScreen, className, style } = props;
  const strings = props.strings ? JSON.stringify(props.strings) : '';
  useEffect(() => {
    if (!host.current || !widgetUrl) return undefined;
    const widget = new LiveCheckWidget(host.current, {
      widgetUrl, language, colorScheme, height, fullScreen, strings: strings ? JSON.parse(strings) : undefined,
    });
    for (const type of Object.values(LiveCheckEvent)) {
      widget.on(type, (event) => {
        const callback = latest.current[CALLBACKS[type]];
        if (typeof callback === 'function') callback(event);
      });
    }
    widget.ready.catch((err) => {
      const callback = latest.current.onMountError;
      if (typeof callback === 'function') callback(err);
    });
    return () => widget.unmount();
  }, [widgetUrl, language, colorScheme, height, fullScreen, strings]);
  return createElement('div', { ref: host, className, style });
}
