"""Placeholder."""

from quart import Blueprint

blueprint = Blueprint("api_silent", __name__)
