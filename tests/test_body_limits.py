"""Request bodies (issue 15 V1): every route takes at most 1 MB, read-limited before anything parses it; only the
import upload (IMPORT_MAX_BYTES) and images (MEDIA_MAX_BYTES) take more. An oversized body gets a clear 413."""

import re
import socket
import time
from pathlib import Path

import pytest

from newsletter.web.body_limits import DEFAULT_MAX_BYTES, MULTIPART_ROOM
from tests.support.smtp_server import free_port
from tests.test_serving import Server, server_env

MB = 1024 * 1024
OVERSIZED = 12 * MB  # well under the old limit (IMPORT_MAX_BYTES + 1 MB), far over the new default
IMPORT_MAX = 16 * MB


def test_an_oversized_form_post_is_a_413_page_saying_the_limit(client, newsletter):
    answer = client.post("/n/slow-mornings/subscribe", data=b"email=" + b"a" * DEFAULT_MAX_BYTES,
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 413
    assert "This request is larger than 1 MB" in answer.get_data(as_text=True)


def test_an_oversized_api_or_webhook_body_is_a_413_json_error(client, newsletter):
    for url in ("/api/v1/newsletters/slow-mornings/subscribers", "/webhooks/postmark"):
        answer = client.post(url, data=b"{" + b" " * DEFAULT_MAX_BYTES + b"}", content_type="application/json")
        assert answer.status_code == 413 and answer.is_json, url
        assert "larger than 1 MB" in answer.get_json()["error"]["message"]


def test_the_large_limit_is_only_on_the_upload_routes(app):
    from newsletter.web.body_limits import body_limit

    large = {}
    for rule in app.url_map.iter_rules():
        with app.test_request_context(_path_of(rule.rule), method=_method_of(rule),
                                      content_type="multipart/form-data; boundary=b"):
            if body_limit() != DEFAULT_MAX_BYTES:
                large[rule.endpoint] = body_limit()
    assert large == {"admin.import_check": app.config["IMPORT_MAX_BYTES"] + MULTIPART_ROOM,
                     "admin.upload_media": app.config["MEDIA_MAX_BYTES"] + MULTIPART_ROOM}


@pytest.mark.slow
def test_oversized_bodies_to_every_route_leave_the_worker_s_memory_flat(app, newsletter, database_url, tmp_path):
    """Under gunicorn, every route gets 12 MB (16 MB past IMPORT_MAX_BYTES for the upload routes), with and
    without Content-Length, webhooks configured; the worker's peak RSS (VmHWM) must not grow by a body's size."""
    env = server_env(database_url, tmp_path / "served")
    # One thread: glibc gives each thread its own arena, which would measure the allocator rather than the app.
    env.update(GUNICORN_CMD_ARGS="--threads 1", IMPORT_MAX_BYTES=str(IMPORT_MAX), SES_TOPIC_ARNS="arn:aws:sns:eu-west-1:123456789012:bounces",
               POSTMARK_WEBHOOK_USER="postmark", POSTMARK_WEBHOOK_PASSWORD="a-long-password",
               MAILGUN_SIGNING_KEY="key-0123456789", LOG_FORMAT="text")
    port = free_port()
    server = Server(env, port)
    try:
        assert server.ready.wait(60) and server.process.poll() is None, "".join(server.lines)
        worker = _worker_of(server.process.pid)
        routes = _routes(app)
        for method, path in routes:  # warm up: every page and handler loaded once, with a small body
            _send(port, method, path, 10, chunked=False)
        for chunked in (False, True):  # and the refusal itself
            _send(port, "POST", "/n/slow-mornings/subscribe", OVERSIZED, chunked=chunked)
        before = _peak_rss(worker)
        for method, path in routes:
            size = IMPORT_MAX + 4 * MB if path.endswith(("/import", "/media")) else OVERSIZED
            _send(port, method, path, size, chunked=False)
            _send(port, method, path, size, chunked=True)
            if size > OVERSIZED:  # the upload routes: also as the file upload they take
                _send(port, method, path, size, chunked=False, multipart=True)
                _send(port, method, path, size, chunked=True, multipart=True)
        grown = _peak_rss(worker) - before
        assert server.process.poll() is None and _worker_of(server.process.pid) == worker  # nothing died
    finally:
        server.stop()
    assert len(routes) > 50
    assert grown < 4 * MB, f"the worker's peak memory grew by {grown / MB:.1f} MB"  # a body is 12 MB


def _routes(app) -> list[tuple[str, str]]:
    return [(_method_of(rule), _path_of(rule.rule)) for rule in app.url_map.iter_rules()]


def _method_of(rule) -> str:
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    return "POST" if "POST" in methods else methods[0]


def _path_of(rule: str) -> str:
    path = re.sub(r"<any\(([^,)]+)[^>]*>", lambda m: m.group(1).strip().strip("'"), rule)
    path = re.sub(r"<int(\([^)]*\))?:\w+>", "1", path)
    path = re.sub(r"<path:\w+>", "x/y", path)
    return re.sub(r"<(string:)?\w+>", "slow-mornings", path)


def _send(port: int, method: str, path: str, size: int, chunked: bool, multipart: bool = False) -> None:
    """Send headers then the body in 64 KB pieces until done or the server closes; read what it answers."""
    piece = b"x" * 65536
    kind = "multipart/form-data; boundary=b" if multipart else "application/x-www-form-urlencoded"
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close", f"Content-Type: {kind}",
            "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        try:
            connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            sent = 0
            while sent < size:
                connection.sendall(b"10000\r\n" + piece + b"\r\n" if chunked else piece)
                sent += len(piece)
            if chunked:
                connection.sendall(b"0\r\n\r\n")
            connection.recv(64)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # refused early: the server stopped reading and closed


def _worker_of(master: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError("gunicorn started no worker")


def _peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024


def test_the_upload_routes_take_only_a_file_upload_past_the_default(app):
    from newsletter.web.body_limits import body_limit

    with app.test_request_context("/admin/n/slow-mornings/import", method="POST",
                                  content_type="application/x-www-form-urlencoded"):
        assert body_limit() == DEFAULT_MAX_BYTES
