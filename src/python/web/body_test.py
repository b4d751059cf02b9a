import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from web.body import read_json
from web.errors import HttpError


def request(body: bytes, content_type: str = "application/json") -> Request:
    return Request(
        EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()
    )


def refusal(body: bytes, content_type: str = "application/json", limit: int = 1000) -> HttpError:
    with pytest.raises(HttpError) as caught:
        read_json(request(body, content_type), limit, timeout=5)
    return caught.value


def test_a_json_body_is_parsed() -> None:
    assert read_json(request(b'{"numbers": [1, 2.5]}'), 1000, timeout=5) == {"numbers": [1, 2.5]}
    assert read_json(request(b"[1]", "application/vnd.api+json"), 1000, timeout=5) == [1]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "empty"),
        (b"{", "not valid JSON"),
        (b'{"numbers": [NaN]}', "NaN is not a JSON number"),
        (b'{"numbers": [Infinity]}', "Infinity is not a JSON number"),
        (b'{"numbers": [1], "numbers": [2]}', "duplicate key 'numbers'"),
        (b'{"numbers": [1]}\xff', "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"numbers": [' + b"9" * 5000 + b"]}", "an integer has too many digits"),
    ],
)
def test_malformed_json_is_a_400_that_says_why(body: bytes, reason: str) -> None:
    error = refusal(body, limit=1_000_000)
    assert (error.status, error.code) == (400, "invalid_json")
    assert reason in error.message


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_a_415(content_type: str) -> None:
    assert refusal(b'{"numbers": [1]}', content_type).status == 415
