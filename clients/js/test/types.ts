// Type-level use of the package, checked by `tsc` (npm run typecheck): what an integrator writes must compile and
// misuse must not (each @ts-expect-error fails the build if the line stops being an error).
import { mount, ErrorCode, LiveCheckError, LiveCheckEvent, type Outcome } from '../src/livecheck.js';
import { LiveCheckElement } from '../src/element.js';
import { LiveCheck, type LiveCheckProps } from '../src/react.js';

async function integrator(el: HTMLElement): Promise<string> {
  try {
    const widget = await mount(el, {
      widgetUrl: 'https://livecheck.example/widget/abc#token=t',
      language: 'zh-Hans',
      colorScheme: 'dark',
      strings: { 'intro.heading': 'Hello' },
      onRetry: (event) => console.log(event.sessionId),
      onProgress: (event) => console.log(event.status === 'challenge'),
    });
    const off = widget.on(LiveCheckEvent.CANCELLED, (event) => console.log(event.status));
    off();
    const outcome: Outcome = await widget.result;
    if (outcome.type === 'error') return outcome.code;
    widget.unmount();
    return outcome.status;
  } catch (err) {
    if (err instanceof LiveCheckError && err.code === ErrorCode.FRAME_REFUSED) return 'refused';
    throw err;
  }
}

// @ts-expect-error widgetUrl is required
mount('#x', {});
// @ts-expect-error no such colour scheme
mount('#x', { widgetUrl: 'u', colorScheme: 'blue' });
// @ts-expect-error strings are strings
mount('#x', { widgetUrl: 'u', strings: { a: 1 } });

const element: LiveCheckElement | null = document.querySelector('livecheck-widget');
element?.addEventListener('livecheck-completed', (event) => console.log(event.detail.status));
const props: LiveCheckProps = { widgetUrl: 'u', onCompleted: (event) => console.log(event.status) };
LiveCheck(props);
void integrator;
