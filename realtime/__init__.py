"""Live checks: aiortc peer connections, frame sampling, the challenge state machine, data-channel protocol."""
