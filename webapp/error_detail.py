"""Where an error's detail goes when an API's document fixes the error text: a response header and a log line.

Huawei's `error_msg` and the silent verification's `message` are exactly their documents' strings; what livecheck
knows beyond them ("the video lasts 0.60 s", "signature does not match") is sent as `X-Livecheck-Detail` and
logged with the request id, so an operator can find it and a client parsing the document's text never sees it.
"""

from __future__ import annotations

import logging

from quart import Response

from webapp.services import request_id

DETAIL_HEADER = "X-Livecheck-Detail"
MAX_DETAIL_CHARS = 300
log = logging.getLogger("livecheck.errors")


def attach(response: Response, api: str, code: object, detail: str) -> Response:
    """Adds the detail (one line of printable ASCII, bounded) to the response and logs it with the request id."""
    text = " ".join(detail.split())[:MAX_DETAIL_CHARS].encode("ascii", "replace").decode("ascii")
    if text:
        response.headers[DETAIL_HEADER] = text
    log.info("%s error %s %s (request id %s): %s", api, code, response.status_code, request_id(), text or "-")
    return response
