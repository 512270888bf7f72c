"""The studio's HTTP API: one handler per endpoint, each a thin translation between a request and
the session (:class:`~.session.Studio`, found as ``request.app.state.studio``), and the route table.

Handlers read and check the request's JSON, run the session's work on a thread (renders and file
work block), and answer JSON; an :class:`~.errors.HTTPError` or a
:class:`~roomgate.errors.RoomgateError` the user caused becomes a JSON error (:func:`_endpoint`).

API (JSON unless noted; every ``/api`` request needs the token, as the header
``X-Roomgate-Token`` or ``?token=``):

======  ======================  ==========================================================
GET     /                       the page (``?token=`` required)
GET     /static/{name}          the page's script and style sheet
GET     /api/state              rig, take, last render (with its report), built-in presets, monitor
GET     /api/rig                the rig: room, singer, mics (positions, distances, gains, gates)
POST    /api/settings           ``{"set": ["mics.far.distance_m=12", ...]}`` -> the rig; 400 names the key
POST    /api/settings/undo      drop the last change -> the rig
POST    /api/prefetch           ``{"set": [...]}``: prepare those changes' IRs and captures in the background
POST    /api/settings/reset     back to the starting rig, or ``{"preset": NAME}`` a built-in -> the rig
POST    /api/preset             ``{"name": FILE, "text": TOML}``: a preset read from disk by the page -> the rig
POST    /api/monitor            ``{"solo": [mic, ...], "mute": [...]}``: what B and C let through -> the monitor
POST    /api/take               multipart ``file``: an audio file (mono or downmixed) -> the take
POST    /api/take/demo          ``{"sample_rate": 48000}``: the built-in sung crescendo -> the take
POST    /api/render             ``{"since": RENDER}`` optional: render the take -> report (rows unchanged
                                since RENDER as null, listed in ``unchanged``), rig, audio and levels URLs
GET     /api/levels/{render}    A (dry), B (the render), C (every gate open): meters, loudness, matching
                                gains, audio URLs (measured when first asked for)
GET     /api/hall               each mic's IR (envelope, decay) and room measures; ``?have=DIGEST,...``
                                leaves out those the page holds
GET     /api/report             the last render's report
GET     /api/audio/{id}         WAV (32-bit float); ids: a take's, a render's or a C's, or ``dry`` /
                                ``render`` for the current ones; ``?download=1`` as attachment;
                                ``?raw=1`` the latest render's mix before normalisation (the page
                                plays it at the render's ``normalization_db``), ``&since=RENDER`` as
                                the samples changed since RENDER (:func:`.wire.audio_patch`) when worth it
GET     /api/preset.toml        the rig as a preset file (loadable by ``roomgate render --preset``);
                                ``?name=`` the name it carries
======  ======================  ==========================================================
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..config.nesting import MAX_NESTING, check_nesting
from ..errors import RoomgateError
from .errors import HTTPError, error_response
from .session import Studio, new_id, safe_stem
from .settings import preset_name
from .wire import PATCH_MEDIA_TYPE, report_json

__all__ = ["ROUTES"]

MAX_JSON_BYTES = 1024 * 1024  # a request's JSON body
_STATIC_DIR = resources.files("roomgate.studio") / "static"
_STATIC = {
    "studio.js": "text/javascript; charset=utf-8",
    "studio.css": "text/css; charset=utf-8",
}
_AUDIO_EXTENSIONS = {"wav", "wave", "flac", "ogg", "oga", "opus", "aif", "aiff", "aifc", "caf", "w64", "mp3", "rf64"}
_YES = ("1", "true", "yes")

Handler = Callable[[Request], Awaitable[Response]]


def _studio(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


def _endpoint(handler: Handler) -> Handler:
    """Turn the errors a user can cause into JSON answers: HTTPError as is, RoomgateError as 400."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except HTTPError as error:
            return error_response(error.status, error.message)
        except RoomgateError as error:
            return error_response(400, str(error))

    wrapped.__name__ = handler.__name__
    return wrapped


async def _json_body(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object (``{}`` when empty); 413 over 1 MB, 400 for anything else."""
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        raise HTTPError(413, "request body: expected at most 1 MB of JSON")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HTTPError(400, f"request body: expected JSON ({error})") from None
    except RecursionError:
        raise HTTPError(400, f"request body: nested more than {MAX_NESTING} levels deep") from None
    check_nesting(body, "request body")  # a ConfigError: 400
    if not isinstance(body, dict):
        raise HTTPError(400, f"request body: expected a JSON object, got {type(body).__name__}")
    return body


def _changes(body: dict[str, Any]) -> list[Any]:
    """The body's ``set``: a list of ``KEY=VALUE`` changes (checked further by the session)."""
    changes = body.get("set", [])
    if not isinstance(changes, list):
        raise HTTPError(400, f"set: expected a list of KEY=VALUE strings, got {changes!r}")
    return changes


# -- the page ------------------------------------------------------------------------------------


async def index(request: Request) -> Response:
    html = (_STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return Response(html, media_type="text/html; charset=utf-8")


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _STATIC:  # a fixed list: no path from the request reaches the file system
        return PlainTextResponse("not found", status_code=404)
    return Response((_STATIC_DIR / name).read_bytes(), media_type=_STATIC[name])


async def favicon(request: Request) -> Response:
    return Response(status_code=204)  # browsers ask for one even on the 403 page


# -- the rig -------------------------------------------------------------------------------------


@_endpoint
async def get_state(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_studio(request).state))


@_endpoint
async def get_rig(request: Request) -> Response:
    return JSONResponse(_studio(request).describe_rig())


@_endpoint
async def post_settings(request: Request) -> Response:
    body = await _json_body(request)
    if isinstance(body.get("set"), str):  # one change, not in a list
        body["set"] = [body["set"]]
    return JSONResponse(await run_in_threadpool(_studio(request).change, _changes(body)))


@_endpoint
async def post_prefetch(request: Request) -> Response:
    changes = _changes(await _json_body(request))
    return JSONResponse(await run_in_threadpool(_studio(request).prefetch, changes))


@_endpoint
async def post_undo(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_studio(request).undo))


@_endpoint
async def post_reset(request: Request) -> Response:
    preset = (await _json_body(request)).get("preset")
    if preset is not None and not isinstance(preset, str):
        raise HTTPError(400, f"preset: expected a built-in preset name, got {preset!r}")
    return JSONResponse(await run_in_threadpool(_studio(request).reset, preset))


@_endpoint
async def post_preset(request: Request) -> Response:
    body = await _json_body(request)
    name, text = body.get("name", "preset.toml"), body.get("text")
    if not isinstance(name, str) or not isinstance(text, str):
        raise HTTPError(400, "preset: expected {\"name\": FILE NAME, \"text\": the preset's TOML}")
    return JSONResponse(await run_in_threadpool(_studio(request).open_preset, name, text))


@_endpoint
async def get_preset(request: Request) -> Response:
    studio, typed = _studio(request), request.query_params.get("name")
    text = await run_in_threadpool(studio.preset_toml, typed)
    name = (safe_stem(preset_name(typed)) + ".toml") if typed is not None else safe_stem(studio.preset_name) + "-studio.toml"
    return Response(text, media_type="application/toml; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@_endpoint
async def post_monitor(request: Request) -> Response:
    body = await _json_body(request)
    studio = _studio(request)
    return JSONResponse(await run_in_threadpool(studio.set_monitor, body.get("solo", []), body.get("mute", [])))


@_endpoint
async def get_hall(request: Request) -> Response:
    have = {d for d in request.query_params.get("have", "").split(",") if d}
    return JSONResponse(await run_in_threadpool(_studio(request).hall, have))


# -- the take ------------------------------------------------------------------------------------


@_endpoint
async def post_demo(request: Request) -> Response:
    rate = (await _json_body(request)).get("sample_rate", 48_000)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise HTTPError(400, f"sample_rate: expected a number of Hz, got {rate!r}")
    return JSONResponse(await run_in_threadpool(_studio(request).load_demo, rate))


@_endpoint
async def post_take(request: Request) -> Response:
    studio = _studio(request)
    form = await _read_form(request, studio.max_upload_bytes)
    try:
        name, stored = await _store_upload(form, studio.workdir)
    finally:
        await form.close()
    return JSONResponse(await run_in_threadpool(studio.load_upload, name, stored))


class _TooLarge(Exception):
    pass


async def _read_form(request: Request, limit_bytes: int) -> FormData:
    """An upload's multipart form, its bytes counted as they arrive: 413 as soon as they pass
    ``limit_bytes`` (or when the declared length does), 400 for a body that is not a form."""
    too_large = HTTPError(413, f"upload: larger than the limit of {_megabytes(limit_bytes)}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise too_large
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPError(400, "upload: expected multipart/form-data with the audio file in the field 'file'")
    received = 0

    async def counting_receive() -> Any:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit_bytes:
                raise _TooLarge
        return message

    try:
        return await Request(request.scope, counting_receive).form(max_files=1, max_fields=8)
    except _TooLarge:
        raise too_large from None
    except Exception as error:  # noqa: BLE001 - a malformed multipart body
        if type(error).__name__ in ("MultiPartException", "HTTPException"):
            detail = getattr(error, "message", None) or getattr(error, "detail", error)
            raise HTTPError(400, f"upload: {detail}") from None
        raise


async def _store_upload(form: FormData, folder: Path) -> tuple[str, Path]:
    """The form's ``file`` written to a new file in ``folder`` -> ``(its name as uploaded, where it is)``.
    The stored file keeps the extension only when it is an audio file's (it helps the decoder)."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPError(400, "upload: expected the audio file in the multipart field 'file'")
    name = (upload.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:120] or "upload"
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    suffix = f".{extension}" if extension in _AUDIO_EXTENSIONS else ""
    stored = folder / f"{new_id('u')}{suffix}"
    with open(stored, "wb") as handle:
        while chunk := await upload.read(1 << 20):
            handle.write(chunk)
    return name, stored


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.0f} MB" if count >= 1e6 else f"{count} bytes"


# -- renders -------------------------------------------------------------------------------------


@_endpoint
async def post_render(request: Request) -> Response:
    since = (await _json_body(request)).get("since")
    return JSONResponse(await run_in_threadpool(_studio(request).render, since if isinstance(since, str) else None))


@_endpoint
async def get_levels(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_studio(request).levels_of, request.path_params["render_id"]))


@_endpoint
async def get_report(request: Request) -> Response:
    last = _studio(request).last_render
    if last is None:
        raise HTTPError(404, "nothing rendered yet")
    return JSONResponse(report_json(last.report))


@_endpoint
async def get_audio(request: Request) -> Response:
    studio, audio_id = _studio(request), request.path_params["audio_id"]
    download = request.query_params.get("download") in _YES
    raw = request.query_params.get("raw") in _YES and not download
    since = request.query_params.get("since")
    if since and raw:
        patch = await run_in_threadpool(studio.audio_patch, audio_id, since)
        if patch is not None:
            return Response(patch, media_type=PATCH_MEDIA_TYPE)
    if raw:
        return Response(await run_in_threadpool(studio.raw_audio, audio_id), media_type="audio/wav")
    path, download_name = await run_in_threadpool(studio.audio_file, audio_id)
    if not path.is_file():
        raise HTTPError(404, "no such audio")
    if download:
        return FileResponse(path, media_type="audio/wav", filename=download_name)
    return FileResponse(path, media_type="audio/wav")


ROUTES = [Route(path, handler, methods=[method]) for method, path, handler in [
    ("GET", "/", index),
    ("GET", "/static/{name}", static_file),
    ("GET", "/favicon.ico", favicon),
    ("GET", "/api/state", get_state),
    ("GET", "/api/rig", get_rig),
    ("POST", "/api/settings", post_settings),
    ("POST", "/api/settings/undo", post_undo),
    ("POST", "/api/prefetch", post_prefetch),
    ("POST", "/api/settings/reset", post_reset),
    ("POST", "/api/take", post_take),
    ("POST", "/api/take/demo", post_demo),
    ("POST", "/api/render", post_render),
    ("POST", "/api/monitor", post_monitor),
    ("POST", "/api/preset", post_preset),
    ("GET", "/api/hall", get_hall),
    ("GET", "/api/levels/{render_id}", get_levels),
    ("GET", "/api/report", get_report),
    ("GET", "/api/audio/{audio_id}", get_audio),
    ("GET", "/api/preset.toml", get_preset),
]]
