"""Placeholder."""

from quart import Blueprint

blueprint = Blueprint("api_huawei", __name__)
