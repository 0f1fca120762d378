"""Tests of clients/python: the integrator client."""
