"""Placeholder."""

from quart import Blueprint

blueprint = Blueprint("api_native", __name__)
