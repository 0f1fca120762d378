"""Tests of authentication, tokens, input limits, fuzzing: the attacker's view."""
