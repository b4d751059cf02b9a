"""The HTTP/1.1 server on a loopback port, driven by raw sockets."""

from __future__ import annotations

import gc
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import eventlet
import pytest
from eventlet.green import socket
from werkzeug.wrappers import Response

from web.parser import MAX_HEADER_LINE, MAX_REQUEST_LINE
from web.server import HttpServer

TIMEOUT = 5.0
SHORT_TIMEOUT = 0.5


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """A raw HTTP/1.1 client: sends bytes, reads answers one at a time."""

    def __init__(self, address: tuple[str, int], timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.received = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _more(self) -> bool:
        data = self.sock.recv(65536)
        self.received += data
        return bool(data)

    def _take(self, size: int) -> bytes:
        while len(self.received) < size:
            if not self._more():
                raise EOFError(f"closed after {self.received!r}")
        taken, self.received = self.received[:size], self.received[size:]
        return taken

    def _line(self) -> bytes:
        while b"\r\n" not in self.received:
            if not self._more():
                raise EOFError(f"closed after {self.received!r}")
        line, self.received = self.received.split(b"\r\n", 1)
        return line

    def answer(self, bodyless: bool = False) -> Answer:
        status = int(self._line().split()[1])
        headers: dict[str, str] = {}
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(": ")
            headers[name.lower()] = value
        if bodyless:
            body = b""
        elif "content-length" in headers:
            body = self._take(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int(self._line(), 16):
                body += self._take(size)
                assert self._take(2) == b"\r\n"
            assert self._line() == b""
        else:
            while self._more():
                pass
            body, self.received = self.received, b""
        return Answer(status, headers, body)

    def closed(self) -> bool:
        """Wait for the server to close the connection; False if it sends bytes instead."""
        try:
            return not self._more()
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


class App:
    """The WSGI app under test: werkzeug responses, as the gateway's app makes them."""

    def __init__(self) -> None:
        self.release = eventlet.event.Event()
        self.waiting = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ["PATH_INFO"]
        stream = environ["wsgi.input"]
        response: Any
        if path == "/body":
            response = Response(stream.read(), mimetype="application/octet-stream")
        elif path == "/lines":
            response = json_response({"lines": [x.decode() for x in stream.readlines()]})
        elif path.startswith("/read/"):
            part = stream.read(int(path.removeprefix("/read/")))
            response = json_response({"read": part.decode()})
        elif path == "/slow-body":
            try:
                response = json_response({"read": len(stream.read())})
            except socket.timeout:
                response = json_response({"error": "timeout"}, 408, [("Connection", "close")])
        elif path.startswith("/stream/"):
            parts = [b"x" * 1000] * int(path.removeprefix("/stream/"))
            response = Response(iter(parts), mimetype="text/plain")
        elif path == "/close":
            response = json_response({}, headers=[("Connection", "close")])
        elif path == "/fail":
            raise RuntimeError("the app broke")
        elif path == "/wait":
            self.waiting += 1
            self.release.wait()
            response = json_response({"waited": True})
        else:
            fields = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "RAW_URI",
                      "SERVER_PROTOCOL", "CONTENT_TYPE", "CONTENT_LENGTH")  # fmt: skip
            echo = {key: environ.get(key) for key in fields}
            echo["headers"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
            response = json_response(echo)
        return response(environ, start_response)


def json_response(body: Any, status: int = 200, headers: Any = ()) -> Response:
    return Response(json.dumps(body), status, list(headers), mimetype="application/json")


@dataclass
class Running:
    server: HttpServer
    app: App
    address: tuple[str, int]
    failures: list[BaseException]

    def client(self) -> Client:
        return Client(self.address)


@pytest.fixture
def start() -> Iterator[Callable[..., Running]]:
    threads: list[Any] = []
    listeners: list[Any] = []

    def start_server(timeout: float = TIMEOUT, access_log: bool = False, **limits: Any,
                     ) -> Running:  # fmt: skip
        listener = eventlet.listen(("127.0.0.1", 0))
        listeners.append(listener)
        app = App()
        server = HttpServer(app, timeout, access_log, **limits)
        running = Running(server, app, listener.getsockname(), [])

        def serve(sock: Any, address: Any) -> None:
            try:
                server.serve(sock, address)
            except BaseException as exc:  # HttpServer.serve must never raise
                running.failures.append(exc)
                raise

        def accept() -> None:
            while True:
                sock, address = listener.accept()
                if server.admit(sock):
                    threads.append(eventlet.spawn(serve, sock, address))

        threads.append(eventlet.spawn(accept))
        return running

    yield start_server
    for thread in threads:
        thread.kill()
    for listener in listeners:
        listener.close()


def get(path: str, *headers: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: test", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: test", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def wait_until(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        eventlet.sleep(0.01)


# Keep-alive, pipelining, HTTP/1.0


def test_http11_keeps_the_connection_open_for_the_next_request(start: Any) -> None:
    client = start().client()
    for path in ("/first", "/second"):
        client.send(get(path))
        answer = client.answer()
        assert answer.status == 200
        assert answer.json()["PATH_INFO"] == path
        assert "connection" not in answer.headers
    client.close()


def test_pipelined_requests_in_one_write_are_answered_in_order(start: Any) -> None:
    client = start().client()
    client.send(get("/a") + post("/body", b"payload") + get("/c", "Connection: close"))
    assert client.answer().json()["PATH_INFO"] == "/a"
    assert client.answer().body == b"payload"
    last = client.answer()
    assert last.json()["PATH_INFO"] == "/c"
    assert last.headers["connection"] == "close"
    assert client.closed()


def test_http10_closes_unless_asked_to_keep_alive(start: Any) -> None:
    running = start()
    client = running.client()
    client.send(get("/", version="1.0"))
    assert client.answer().headers["connection"] == "close"
    assert client.closed()

    client = running.client()
    for _ in range(2):
        client.send(get("/", "Connection: keep-alive", version="1.0"))
        answer = client.answer()
        assert answer.headers["connection"] == "keep-alive"
        assert answer.json()["SERVER_PROTOCOL"] == "HTTP/1.0"
    client.close()


def test_connection_close_from_the_client_or_the_app_is_honoured(start: Any) -> None:
    running = start()
    for request in (get("/", "Connection: close"), get("/close")):
        client = running.client()
        client.send(request)
        assert client.answer().headers["connection"] == "close"
        assert client.closed()


# The environ


def test_the_environ_has_what_werkzeug_and_nameko_read(start: Any) -> None:
    client = start().client()
    client.send(get("/a%20b/%C3%A9?x=1&y=%20", "X-Twice: 1", "X-Twice: 2",
                    "X_Sneaky: 1", "X-Padded:   v  ", "Content-Type: text/plain"))  # fmt: skip
    echo = client.answer().json()
    assert echo["REQUEST_METHOD"] == "GET"
    assert echo["PATH_INFO"] == "/a b/\u00c3\u00a9"  # WSGI: percent-decoded bytes as latin-1
    assert echo["QUERY_STRING"] == "x=1&y=%20"
    assert echo["RAW_URI"] == "/a%20b/%C3%A9?x=1&y=%20"
    assert echo["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert echo["CONTENT_TYPE"] == "text/plain"
    assert echo["headers"] == {"HTTP_HOST": "test", "HTTP_X_TWICE": "1,2", "HTTP_X_PADDED": "v"}
    client.close()


def test_control_characters_in_a_header_value_reach_the_app(start: Any) -> None:
    client = start().client()
    client.send(get("/", "X-Request-ID: evil\x01id"))
    answer = client.answer()
    assert answer.json()["headers"]["HTTP_X_REQUEST_ID"] == "evil\x01id"
    client.close()


def test_an_absolute_form_target_is_routed_by_its_path(start: Any) -> None:
    client = start().client()
    client.send(get("http://example.com/path?q=1"))
    echo = client.answer().json()
    assert (echo["PATH_INFO"], echo["QUERY_STRING"]) == ("/path", "q=1")
    client.close()


# Request bodies


def test_a_chunked_body_is_streamed_to_the_app(start: Any) -> None:
    client = start().client()
    client.send(
        b"POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    )
    client.send(b"6;ext=1\r\n, worl\r\n")
    client.send(b"1\r\nd\r\n0\r\nTrailer: x\r\n\r\n")
    assert client.answer().body == b"hello, world"
    client.send(get("/after"))
    assert client.answer().json()["PATH_INFO"] == "/after"
    client.close()


def test_readlines_reads_a_body_line_by_line(start: Any) -> None:
    client = start().client()
    client.send(post("/lines", b"one\ntwo\nthree"))
    assert client.answer().json() == {"lines": ["one\n", "two\n", "three"]}
    client.close()


def test_expect_100_continue_is_answered_when_the_app_reads_the_body(start: Any) -> None:
    client = start().client()
    client.send(
        b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    )
    assert client.answer(bodyless=True).status == 100
    client.send(b"data")
    assert client.answer().body == b"data"
    client.close()


def test_a_request_whose_body_the_app_did_not_wait_for_closes_the_connection(
    start: Any,
) -> None:
    client = start().client()
    client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    answer = client.answer()
    assert (answer.status, answer.headers["connection"]) == (200, "close")
    assert client.closed()


def test_an_unread_small_body_is_discarded_before_the_next_request(start: Any) -> None:
    client = start().client()
    client.send(post("/read/3", b"abcdefgh")[:-5])  # the rest comes after the answer
    answer = client.answer()
    assert (answer.json(), "connection" in answer.headers) == ({"read": "abc"}, False)
    client.send(b"defgh" + post("/read/2", b"xyz"))
    assert client.answer().json() == {"read": "xy"}
    client.close()


def test_a_large_unread_body_closes_the_connection_instead(start: Any) -> None:
    client = start().client()
    client.send(post("/read/1", b"x" * 1_000_000)[:5000])
    answer = client.answer()
    assert (answer.json(), answer.headers["connection"]) == ({"read": "x"}, "close")
    assert client.closed()


# Responses


def test_head_answers_headers_only(start: Any) -> None:
    client = start().client()
    client.send(get("/x").replace(b"GET", b"HEAD", 1))
    answer = client.answer(bodyless=True)
    assert int(answer.headers["content-length"]) > 0
    client.send(get("/next"))  # no stray body bytes precede the next answer
    assert client.answer().json()["PATH_INFO"] == "/next"
    client.close()


def test_a_body_of_unknown_length_gets_a_length_when_it_is_small(start: Any) -> None:
    client = start().client()
    client.send(get("/stream/3"))
    answer = client.answer()
    assert (answer.headers["content-length"], len(answer.body)) == ("3000", 3000)
    client.close()


def test_a_long_body_of_unknown_length_is_chunked_for_http11_and_closed_for_http10(
    start: Any,
) -> None:
    running = start()
    client = running.client()
    client.send(get("/stream/200") + get("/next"))
    answer = client.answer()
    assert (answer.headers["transfer-encoding"], len(answer.body)) == ("chunked", 200_000)
    assert client.answer().json()["PATH_INFO"] == "/next"
    client.close()

    client = running.client()
    client.send(get("/stream/200", version="1.0"))
    answer = client.answer()
    assert "content-length" not in answer.headers
    assert (answer.headers["connection"], len(answer.body)) == ("close", 200_000)


def test_a_response_goes_out_in_one_write(start: Any) -> None:
    running = start()
    client = running.client()
    client.send(get("/"))
    deadline = time.monotonic() + TIMEOUT
    while b"\r\n\r\n" not in client.received and time.monotonic() < deadline:
        client._more()
    head, _, body = client.received.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    assert len(body) == length, "the body came in a later segment than the head"
    assert re.search(rb"\r\nDate: \w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT", head)
    client.close()


def test_an_app_that_raises_gets_a_json_500_and_the_server_carries_on(
    start: Any, caplog: pytest.LogCaptureFixture
) -> None:
    running = start()
    client = running.client()
    client.send(get("/fail"))
    answer = client.answer()
    assert (answer.status, answer.json()["error"]["code"]) == (500, "internal_error")
    assert "the app broke" not in answer.body.decode()
    assert client.closed()
    assert "the app broke" in caplog.text
    client = running.client()
    client.send(get("/"))
    assert client.answer().status == 200
    assert running.failures == []


def test_a_failure_on_one_connection_is_logged_not_raised(
    start: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenSocket:
        def getsockname(self) -> Any:
            return ("127.0.0.1", 1)

        def settimeout(self, timeout: float) -> None:
            raise ValueError("broken")

        def close(self) -> None:
            pass

    start().server.serve(BrokenSocket(), ("127.0.0.1", 2))
    assert "connection from 127.0.0.1 failed" in caplog.text


@pytest.mark.parametrize("enabled", [True, False])
def test_the_access_log_has_one_line_per_request_only_when_enabled(
    start: Any, caplog: pytest.LogCaptureFixture, enabled: bool
) -> None:
    client = start(access_log=enabled).client()
    with caplog.at_level(logging.INFO, logger="web.request"):
        for path in ("/one", "/two"):
            client.send(get(path))
            client.answer()
    lines = [r.getMessage() for r in caplog.records if r.name == "web.request"]
    if enabled:
        assert len(lines) == 2 and '"GET /one HTTP/1.1" 200' in lines[0], lines
    else:
        assert lines == []
    client.close()


# What the server refuses itself


@pytest.mark.parametrize(
    "raw, status, code",
    [
        (get("/" + "a" * MAX_REQUEST_LINE), 414, "uri_too_long"),
        (get("/", "X-Big: " + "a" * MAX_HEADER_LINE), 431, "header_too_large"),
        (get("/", *[f"X-{i}: {'a' * 4000}" for i in range(20)]), 431, "header_too_large"),
        (b"GET / HTTP/1.1\r\nX-Endless: " + b"a" * 100_000, 431, "header_too_large"),
        (b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "bad_request"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "bad_request"),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         400, "bad_request"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request"),
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/9.9\r\n\r\n", 505, "http_version_not_supported"),
        (b"GET / HTTP/2.0\r\n\r\n", 505, "http_version_not_supported"),
    ],
)  # fmt: skip
def test_malformed_requests_get_a_json_error_and_a_closed_connection(
    start: Any, raw: bytes, status: int, code: str
) -> None:
    client = start().client()
    client.send(raw)
    answer = client.answer()
    assert (answer.status, answer.json()["error"]["code"]) == (status, code)
    assert answer.headers["content-type"] == "application/json"
    assert re.fullmatch("[0-9a-f]{32}", answer.headers["x-request-id"])
    assert answer.headers["connection"] == "close"
    assert client.closed()


def test_a_request_line_just_under_the_limit_is_served(start: Any) -> None:
    client = start().client()
    path = "/" + "a" * (MAX_REQUEST_LINE - len("GET / HTTP/1.1\r\n") - 1)
    client.send(get(path))
    assert client.answer().json()["PATH_INFO"] == path
    client.close()


def test_requests_before_a_malformed_one_are_answered_first(start: Any) -> None:
    client = start().client()
    client.send(get("/fine") + b"GARBAGE\r\n\r\n")
    assert client.answer().json()["PATH_INFO"] == "/fine"
    assert client.answer().status == 400
    assert client.closed()


# Timeouts


def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(start: Any) -> None:
    client = start(timeout=SHORT_TIMEOUT).client()
    client.send(get("/"))
    client.answer()
    started = time.monotonic()
    assert client.closed()
    assert SHORT_TIMEOUT * 0.8 < time.monotonic() - started < SHORT_TIMEOUT + 2


def test_a_stalled_body_read_raises_socket_timeout_in_the_app(start: Any) -> None:
    running = start(timeout=SHORT_TIMEOUT)
    client = running.client()
    client.send(post("/slow-body", b"0123456789")[:-8])
    answer = client.answer()
    assert (answer.status, answer.headers["connection"]) == (408, "close")
    assert client.closed()
    other = running.client()  # and the server serves others all along
    other.send(get("/"))
    assert other.answer().status == 200


def test_a_head_dripped_slower_than_the_timeout_allows_is_closed(start: Any) -> None:
    client = start(timeout=SHORT_TIMEOUT).client()
    started = time.monotonic()
    for byte in get("/")[:-2]:
        try:
            client.send(bytes([byte]))
        except OSError:
            break
        eventlet.sleep(SHORT_TIMEOUT / 5)
    assert client.closed()
    assert time.monotonic() - started < SHORT_TIMEOUT * 3


def test_keep_alive_waits_its_own_timeout_and_a_request_in_progress_the_read_timeout(
    start: Any,
) -> None:
    running = start(timeout=SHORT_TIMEOUT * 4, keepalive_timeout=SHORT_TIMEOUT)
    client = running.client()
    client.send(get("/"))
    client.answer()
    started = time.monotonic()
    assert client.closed()
    assert SHORT_TIMEOUT * 0.8 < time.monotonic() - started < SHORT_TIMEOUT * 3
    slow = running.client()  # half a head: the longer read timeout applies
    slow.send(get("/")[:10])
    started = time.monotonic()
    assert slow.closed()
    assert time.monotonic() - started > SHORT_TIMEOUT * 3


# Connection cap


def test_at_the_cap_the_longest_waiting_connection_makes_room(start: Any) -> None:
    running = start(max_connections=3)
    idle = running.client()
    idle.send(get("/"))
    idle.answer()
    half_head = running.client()
    half_head.send(get("/")[:10])
    newest = running.client()
    wait_until(lambda: len(running.server.waiting) == 3, "three connections waiting")

    fresh = running.client()
    fresh.send(get("/"))
    assert fresh.answer().status == 200
    assert idle.closed(), "the longest waiting closed for the new one"
    another = running.client()
    another.send(get("/"))
    assert another.answer().status == 200
    assert half_head.closed(), "a head still arriving holds no place either"
    newest.send(get("/"))
    assert newest.answer().status == 200


def test_at_the_cap_of_busy_connections_a_new_one_gets_503_at_once(start: Any) -> None:
    running = start(max_connections=2)
    busy = [running.client(), running.client()]
    for client in busy:
        client.send(get("/wait"))
    wait_until(lambda: running.app.waiting == 2, "both requests in the app")

    started = time.monotonic()
    refused = running.client()
    answer = refused.answer()
    assert time.monotonic() - started < 1
    assert (answer.status, answer.json()["error"]["code"]) == (503, "too_many_connections")
    assert answer.headers["connection"] == "close"
    assert refused.closed()
    running.app.release.send()
    for client in busy:
        assert client.answer().json() == {"waited": True}
    fresh = running.client()  # the cap counts open connections, not ever-accepted ones
    fresh.send(get("/"))
    assert fresh.answer().status == 200


# Draining


def test_drain_closes_idle_connections_now_and_busy_ones_after_their_answer(
    start: Any,
) -> None:
    running = start(timeout=60)
    idle, busy = running.client(), running.client()
    idle.send(get("/"))
    idle.answer()
    busy.send(get("/wait"))
    wait_until(lambda: running.app.waiting == 1, "the busy request to reach the app")

    running.server.drain()
    started = time.monotonic()
    assert idle.closed()
    assert time.monotonic() - started < 1
    running.app.release.send()
    answer = busy.answer()
    assert (answer.json(), answer.headers["connection"]) == ({"waited": True}, "close")
    assert busy.closed()


def test_served_requests_leave_no_garbage_for_the_collector(start: Any) -> None:
    client = start().client()
    client.send(get("/echo"))
    client.answer()  # first use: whatever is made once is made now
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            client.send(post("/body", b"x" * 10))
            assert client.answer().body == b"x" * 10
        unreachable = gc.collect()
    finally:
        gc.enable()
    # Every request is freed as soon as it is served; a cycle per request would show
    # here as objects only the collector could free.
    assert unreachable == 0
