"""Pure, synchronous liveness scoring: numpy arrays in, dataclasses out. No web or WebRTC imports here."""
