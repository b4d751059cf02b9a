from __future__ import annotations

from typing import Any

import pytest
from werkzeug.wrappers import Response

from web.responses import JsonResponse

ENVIRON = {"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1"}


def start(app: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    """What `app` passes to start_response, and its body."""
    started: list[Any] = []
    chunks = app(ENVIRON, lambda status, headers, exc_info=None: started.extend([status, headers]))
    return started[0], started[1], b"".join(chunks)


@pytest.mark.parametrize("status", [200, 404, 405, 413, 503])
def test_json_response_sends_what_werkzeug_sends(status: int) -> None:
    body = {"error": {"code": "x", "message": "naïve"}}
    headers = [("Allow", "GET, HEAD"), ("Connection", "close")]
    expected = Response(
        '{"error":{"code":"x","message":"na\\u00efve"}}\n',
        status=status,
        headers=headers,
        mimetype="application/json",
    )
    ours, theirs = start(JsonResponse(status, body, headers)), start(expected)
    assert (ours[0], sorted(ours[1]), ours[2]) == (theirs[0], sorted(theirs[1]), theirs[2])


def test_headers_added_while_starting_one_response_stay_out_of_the_next() -> None:
    response = JsonResponse(200, {})
    _, headers, _ = start(response)
    headers.append(("X-Request-ID", "a"))
    assert ("X-Request-ID", "a") not in start(response)[1]
