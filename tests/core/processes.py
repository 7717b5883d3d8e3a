"""Run `ascolto` commands as real processes and talk to them over HTTP and websockets."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

ASCOLTO = [sys.executable, "-c", "from ascolto.cli import main; main(prog_name='ascolto')"]

# Variables the product reads; a process started here gets only those the test gives it.
CONFIG_PREFIXES = ("ASCOLTO_", "EMAIL_", "DJANGO_", "PYTEST_")
CONFIG_NAMES = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"}


def product_env(**settings: str) -> dict[str, str]:
    """The environment of a person running Ascolto: no test settings, only what is given."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CONFIG_NAMES and not key.startswith(CONFIG_PREFIXES)
    }
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(
    args: list[str], env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ASCOLTO, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


class Service:
    """A long-running `ascolto` process whose output goes to a log file (never a full pipe)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [*ASCOLTO, *args], env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            self._check_alive()
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never appeared in:\n{self.output()}")

    def wait_for_http(self, url: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"{url} never answered; output:\n{self.output()}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"did not stop within {timeout}s:\n{self.output()}") from None
        finally:
            self._log_file.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log_file.close()

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"exited with {self.process.returncode}:\n{self.output()}")


class Browser:
    """Enough of a browser for these tests: cookies, the login form, CSRF for the API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> tuple[int, str]:
        return self._send(self._request(path))

    def login(self, username: str, password: str) -> None:
        status, page = self.get("/accounts/login/")
        assert status == 200, page
        body = urllib.parse.urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.cookie("csrftoken"),
            }
        ).encode()
        request = self._request("/accounts/login/", data=body)
        request.add_header("Referer", self.base_url + "/accounts/login/")
        status, page = self._send(request)
        assert status == 200, page
        assert self.cookie("sessionid"), "login did not start a session"

    def post_json(self, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        request = self._request(path, data=json.dumps(payload).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("X-CSRFToken", self.cookie("csrftoken"))
        request.add_header("Referer", self.base_url + "/")
        status, text = self._send(request)
        return status, json.loads(text) if text else None

    def cookie(self, name: str) -> str:
        for cookie in self.cookies:
            if cookie.name == name:
                return cookie.value or ""
        return ""

    def websocket(self, base_url: str | None = None) -> ClientConnection:
        """Open the realtime feed, on this server or another one, with this browser's session."""
        http_url = base_url or self.base_url
        header = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        return connect(
            http_url.replace("http://", "ws://") + "/ws/events/",
            additional_headers={"Cookie": header},
            origin=http_url,  # type: ignore[arg-type]
            open_timeout=30,
        )

    def _request(self, path: str, **kwargs: Any) -> urllib.request.Request:
        assert self.base_url.startswith("http://127.0.0.1:")
        return urllib.request.Request(self.base_url + path, **kwargs)  # noqa: S310 - loopback

    def _send(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def receive_event(socket: ClientConnection, name: str, timeout: float = 30) -> dict[str, Any]:
    """The next message of the feed named `name` (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {name} event within {timeout}s")
        message: dict[str, Any] = json.loads(socket.recv(timeout=remaining))
        if message.get("event") == name:
            return message


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on the loopback interface now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
