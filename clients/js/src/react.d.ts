import type { CSSProperties, ReactElement } from 'react';
import type { LiveCheckError, LiveCheckEventMap, ColorScheme, FullScreen } from './livecheck.js';

export interface LiveCheckProps {
  widgetUrl: string;
  language?: string;
  strings?: Record<string, string>;
  colorScheme?: ColorScheme;
  height?: string;
  fullScreen?: FullScreen;
  className?: string;
  style?: CSSProperties;
  onReady?: (event: LiveCheckEventMap['ready']) => void;
  onProgress?: (event: LiveCheckEventMap['progress']) => void;
  onCompleted?: (event: LiveCheckEventMap['completed']) => void;
  onCancelled?: (event: LiveCheckEventMap['cancelled']) => void;
  onError?: (event: LiveCheckEventMap['error']) => void;
  onRetry?: (event: LiveCheckEventMap['retry']) => void;
  /** The frame was refused, or it was not ready in time (the same errors mount() rejects with). */
  onMountError?: (error: LiveCheckError) => void;
}

export declare function LiveCheck(props: LiveCheckProps): ReactElement;
