"""The studio as an ASGI app (:func:`create_app`: a session, the API's routes, the guard) and
:func:`serve`, which runs it with uvicorn on a socket of its own until interrupted.

One user, one session, on this machine: the session's files go in a private folder, removed on exit.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from ..errors import ConfigError, OutputError
from ..interrupts import interrupts_on_termination
from .api import ROUTES
from .guard import Guard
from .session import Studio

__all__ = ["create_app", "serve"]


def create_app(
    token: str,
    workdir: Path,
    *,
    port: int | None = None,
    preset: str | Path = "heroes-1977",
    overrides: Sequence[str] = (),
    max_upload_bytes: int = 200 * 1024 * 1024,
) -> Guard:
    """See :func:`roomgate.studio.create_app`."""
    if not token:
        raise ValueError("token: expected a non-empty secret")
    # The session's files go in a folder of their own, readable by this user only.
    private = Path(tempfile.mkdtemp(prefix="session-", dir=workdir))
    os.chmod(private, 0o700)
    studio = Studio(private, preset, overrides, max_upload_bytes)
    app = Starlette(routes=ROUTES)
    app.state.studio = studio  # (the API's handlers find it there)
    return Guard(app, token, port, studio)


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = False,
    on_message: Callable[[str], None] | None = None,
    preset: str | Path = "heroes-1977",
    overrides: Sequence[str] = (),
    max_upload_bytes: int = 200 * 1024 * 1024,
    stop_event: threading.Event | None = None,
) -> None:
    """See :func:`roomgate.studio.serve`."""
    import uvicorn

    shown = _url_host(host, port)
    sock = _listen(host, port)
    actual_port = int(sock.getsockname()[1])
    workdir = Path(tempfile.mkdtemp(prefix="roomgate-studio-"))
    os.chmod(workdir, 0o700)
    try:
        token = secrets.token_urlsafe(24)
        app = create_app(token, workdir, port=actual_port, preset=preset, overrides=overrides,
                         max_upload_bytes=max_upload_bytes)
        url = f"http://{shown}:{actual_port}/?token={token}"
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="off", ws="none", timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        if stop_event is not None:
            def watch() -> None:
                stop_event.wait()
                server.should_exit = True

            threading.Thread(target=watch, name="roomgate-studio-stop", daemon=True).start()
        if on_message is not None:
            on_message(url)
        if open_browser:
            import webbrowser

            threading.Timer(0.3, webbrowser.open, [url]).start()
        # uvicorn stops gracefully on Ctrl+C and SIGTERM (when on the main thread), then raises the
        # signal again: handled as an interrupt, so that the session's files are removed below.
        with interrupts_on_termination(), _hangup_stops(server), contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (OutputError naming the address when it cannot)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every JSON answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    except OSError as error:
        sock.close()
        hint = "; pass --port 0 for a free port" if port else ""
        raise OutputError(f"{host}:{port}: cannot listen ({error.strerror or error}){hint}") from None
    return sock


def _url_host(host: str, port: int) -> str:
    """The host for the printed URL. Refuses a port out of range, and an address whose requests the
    Host check would all refuse; warns that a wildcard address listens on every interface."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port: expected a port from 0 to 65535 (0: any free port), got {port!r}")
    name = host.strip().lower()
    if name in ("0.0.0.0", "", "::", "[::]"):
        warnings.warn(f"--host {host or '0.0.0.0'!s}: listening on every network interface, but the studio answers "
                      "only requests addressed to 127.0.0.1 or localhost: other machines get 403 (reach it "
                      "through an SSH tunnel instead)", UserWarning, stacklevel=3)
        return "[::1]" if ":" in name else "127.0.0.1"
    if name in ("127.0.0.1", "localhost"):
        return name
    if name in ("::1", "[::1]"):
        return "[::1]"
    raise ConfigError(f"host {host!r}: the studio answers only requests addressed to 127.0.0.1 or localhost "
                      "(its Host check, against DNS rebinding), so it would refuse every request made to this "
                      "address; listen on 127.0.0.1 and reach it through an SSH tunnel")


@contextlib.contextmanager
def _hangup_stops(server: Any) -> Iterator[None]:
    """SIGHUP (the terminal closed) stops the server as SIGTERM does: gracefully, then cleaned up."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        yield
        return
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: server.handle_exit(signal.SIGTERM, frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)
