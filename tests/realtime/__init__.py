"""Tests of realtime/: the challenge, WebRTC checks, the session store, capacity."""
