"""Placeholder."""

from quart import Blueprint

blueprint = Blueprint("api_facia", __name__)
