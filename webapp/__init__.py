"""Quart app factory, config, routes (REST, sessions, widget pages), auth, errors, CLI."""
