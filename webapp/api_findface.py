"""Placeholder."""

from quart import Blueprint

blueprint = Blueprint("api_findface", __name__)
