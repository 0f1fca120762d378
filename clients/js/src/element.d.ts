import type { LiveCheckWidget, LiveCheckEventMap } from './livecheck.js';

/** `<livecheck-widget widget-url language color-scheme height>`; events `livecheck-<type>` with the event as detail. */
export declare class LiveCheckElement extends HTMLElement {
  static readonly observedAttributes: string[];
  widget: LiveCheckWidget | null;
  /** String overrides by key (set before `widget-url`, or set `widget-url` again). */
  strings: Record<string, string> | undefined;
}

declare global {
  interface HTMLElementTagNameMap {
    'livecheck-widget': LiveCheckElement;
  }
  interface HTMLElementEventMap {
    'livecheck-ready': CustomEvent<LiveCheckEventMap['ready']>;
    'livecheck-progress': CustomEvent<LiveCheckEventMap['progress']>;
    'livecheck-completed': CustomEvent<LiveCheckEventMap['completed']>;
    'livecheck-cancelled': CustomEvent<LiveCheckEventMap['cancelled']>;
    'livecheck-error': CustomEvent<LiveCheckEventMap['error']>;
    'livecheck-retry': CustomEvent<LiveCheckEventMap['retry']>;
  }
}
