"""The studio: a local web page to place the mics, set the gates and hear the room open.

A small ASGI app (Starlette, served by uvicorn) over the same :class:`~roomgate.rig.rig.Rig` the
command line uses, and one page of plain JavaScript (no build step, nothing from the network).
It listens on 127.0.0.1 only by default, checks the ``Host`` header, and answers only requests
that carry the random token from the URL it prints, as Jupyter does.

Starlette and uvicorn are an optional extra: ``pip install 'roomgate[studio]'``. They are
imported when :func:`serve` or :func:`create_app` is called, never by ``import roomgate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError

if TYPE_CHECKING:
    import threading

__all__ = ["DEFAULT_PORT", "create_app", "serve"]

DEFAULT_PORT = 8765


def _server_module() -> Any:
    try:
        from . import server
    except ImportError as error:  # starlette, uvicorn or python-multipart missing
        missing = (error.name or str(error)).split(".")[0]
        raise MissingDependencyError(
            f"the studio needs the 'studio' extra ({missing} is missing): pip install 'roomgate[studio]' "
            "(from a checkout: pip install -e '.[studio]')"
        ) from None
    return server


def create_app(
    token: str,
    workdir: Path,
    *,
    port: int | None = None,
    preset: str | Path = "heroes-1977",
    overrides: Sequence[str] = (),
    max_upload_bytes: int = 200 * 1024 * 1024,
) -> Any:
    """The studio as an ASGI app (for tests and embedding); :func:`serve` runs it.

    Args:
        token: the secret every API request must carry (``X-Roomgate-Token`` header or
            ``?token=``); make it with :func:`secrets.token_urlsafe`.
        workdir: a private folder (mode 0700) for uploads and renders; files in it are only ever
            named by ids the server makes.
        port: when given, the ``Host`` header must name this port too (it must always name
            127.0.0.1, localhost or [::1]).
        preset, overrides: the rig to start with (``KEY=VALUE`` as for ``--set``).
        max_upload_bytes: larger uploads get HTTP 413.
    """
    return _server_module().create_app(
        token, Path(workdir), port=port, preset=preset, overrides=overrides, max_upload_bytes=max_upload_bytes
    )


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    on_message: Callable[[str], None] | None = None,
    preset: str | Path = "heroes-1977",
    overrides: Sequence[str] = (),
    max_upload_bytes: int = 200 * 1024 * 1024,
    stop_event: "threading.Event | None" = None,
) -> None:
    """Run the studio until interrupted (Ctrl+C) or until ``stop_event`` is set. Blocking.

    Prints nothing: once the server listens it calls ``on_message`` once with the page's URL,
    token included (``http://127.0.0.1:8765/?token=...``). ``port=0`` picks a free port. A private
    temporary folder holds the session's files and is removed on exit.

    Raises:
        OutputError: the address cannot be listened on (e.g. the port is in use).
        MissingDependencyError: the 'studio' extra is not installed.
    """
    _server_module().serve(
        host=host,
        port=port,
        open_browser=open_browser,
        on_message=on_message,
        preset=preset,
        overrides=overrides,
        max_upload_bytes=max_upload_bytes,
        stop_event=stop_event,
    )
