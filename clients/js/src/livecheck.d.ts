/** livecheck host API (src/livecheck.js). docs/embedding.md documents every option and event. */

export declare const VERSION: 2;

export declare const LiveCheckEvent: Readonly<{
  READY: 'ready';
  PROGRESS: 'progress';
  COMPLETED: 'completed';
  CANCELLED: 'cancelled';
  ERROR: 'error';
  RETRY: 'retry';
}>;
export type LiveCheckEventType = (typeof LiveCheckEvent)[keyof typeof LiveCheckEvent];

export declare const ErrorCode: Readonly<{
  INVALID_OPTIONS: 'invalid_options';
  ELEMENT_NOT_FOUND: 'element_not_found';
  FRAME_REFUSED: 'frame_refused';
  READY_TIMEOUT: 'ready_timeout';
  UNMOUNTED: 'unmounted';
  SESSION_EXPIRED: 'session_expired';
  SESSION_USED: 'session_used';
  PERMISSION_DENIED: 'permission_denied';
  NO_CAMERA: 'no_camera';
  CAMERA_IN_USE: 'camera_in_use';
  WEBRTC_FAILED: 'webrtc_failed';
  NETWORK: 'network';
  INSECURE_CONTEXT: 'insecure_context';
  GENERIC: 'generic';
}>;
export type LiveCheckErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The session's status as the widget last heard it (the authoritative result is your backend's to read). */
export type SessionStatus = 'SUCCEEDED' | 'FAILED';
/** What `progress` events carry in `status`. */
export type Phase = 'positioning' | 'challenge' | 'deciding';

export interface ReadyEvent { type: 'ready'; sessionId: string; status: 'ready' }
export interface ProgressEvent { type: 'progress'; sessionId: string; status: Phase }
export interface CompletedEvent { type: 'completed'; sessionId: string; status: SessionStatus }
/** The user confirmed Cancel: the server ends the session FAILED with reason `cancelled`. */
export interface CancelledEvent { type: 'cancelled'; sessionId: string; status: 'FAILED' }
/** An error screen: `permission_denied`, `no_camera`, `camera_in_use` can be retried in the same session; every
 * other code ends it (offer a new session: see `retry`). */
export interface ErrorEvent { type: 'error'; sessionId: string; status: string; code: LiveCheckErrorCode }
/** The user asked for a new check (an end screen's button): create a new session and mount it. */
export interface RetryEvent { type: 'retry'; sessionId: string; status: 'retry' }

export interface LiveCheckEventMap {
  ready: ReadyEvent;
  progress: ProgressEvent;
  completed: CompletedEvent;
  cancelled: CancelledEvent;
  error: ErrorEvent;
  retry: RetryEvent;
}

export type Outcome = CompletedEvent | CancelledEvent | ErrorEvent;

export type ColorScheme = 'auto' | 'light' | 'dark';
export type FullScreen = 'never' | 'small' | 'always';

export interface MountOptions {
  /** `widget_url` from `POST /v1/sessions` (your backend creates the session with its API key). */
  widgetUrl: string;
  /** A BCP 47 tag: en, es, fr, de, pt, it, zh-Hans, ja, ar (right-to-left); default: the browser's languages. */
  language?: string;
  /** Replaces any of the widget's strings by key (frontend/i18n/en.json lists them), e.g. {"intro.heading": "..."}. */
  strings?: Record<string, string>;
  /** Default 'auto' (the browser's prefers-color-scheme). */
  colorScheme?: ColorScheme;
  /** CSS width of the iframe (default '100%'); `maxWidth` default '760px'. */
  width?: string;
  maxWidth?: string;
  /** 'auto' (default): the iframe follows the widget's content height. Or a fixed CSS height. */
  height?: string;
  /** The iframe's height until the widget reports its own (default '360px'). */
  initialHeight?: string;
  /** The iframe's accessible title (default 'Liveness check'). */
  title?: string;
  /** Reject with `ready_timeout` when the widget is not ready within this (default 20000 ms). */
  readyTimeoutMs?: number;
  /** Reject with `frame_refused` when the frame loads and says nothing for this long (default 4000 ms). */
  frameTimeoutMs?: number;
  /** Scroll the widget into view when the check starts (default true). */
  scrollIntoView?: boolean;
  /** The iframe over the whole screen while the check runs: 'small' on phone-size viewports (shorter side under
   * 600 px), 'always', or 'never' (default). The end screen shows in the page again. */
  fullScreen?: FullScreen;
  onReady?: (event: ReadyEvent) => void;
  onProgress?: (event: ProgressEvent) => void;
  onCompleted?: (event: CompletedEvent) => void;
  onCancelled?: (event: CancelledEvent) => void;
  onError?: (event: ErrorEvent) => void;
  onRetry?: (event: RetryEvent) => void;
}

export declare class LiveCheckError extends Error {
  readonly name: 'LiveCheckError';
  readonly code: LiveCheckErrorCode;
  constructor(code: LiveCheckErrorCode, message: string);
}

export declare class LiveCheckWidget {
  constructor(element: Element, options: MountOptions);
  readonly sessionId: string;
  readonly iframe: HTMLIFrameElement;
  readonly element: Element;
  /** True while the iframe covers the screen (the `fullScreen` option). */
  readonly fullScreen: boolean;
  /** Resolves with this widget when it is ready; rejects with a LiveCheckError. */
  readonly ready: Promise<LiveCheckWidget>;
  /** Resolves (never rejects) when the check ends: completed, cancelled, or an error that ends the session. */
  readonly result: Promise<Outcome>;
  on<K extends LiveCheckEventType>(type: K, listener: (event: LiveCheckEventMap[K]) => void): () => void;
  off<K extends LiveCheckEventType>(type: K, listener: (event: LiveCheckEventMap[K]) => void): void;
  unmount(): void;
}

export type MountPromise = Promise<LiveCheckWidget> & { readonly widget?: LiveCheckWidget };

export declare function mount(element: Element | string, options: MountOptions): MountPromise;

export declare function widgetSrc(widgetUrl: string, options?: Partial<MountOptions>, base?: string): URL;

export interface WidgetMessage {
  type: string;
  sessionId: string;
  status: string;
  code?: string;
  height?: number;
}
export declare function readMessage(data: unknown): WidgetMessage | null;
