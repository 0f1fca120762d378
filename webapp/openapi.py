"""Placeholder."""

from quart import Blueprint

blueprint = Blueprint("openapi", __name__)
