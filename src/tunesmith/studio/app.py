"""The studio's HTTP layer: a Starlette app over `Engine`, `Workdir` and `files`.

Every answer to a bad request is a 4xx with ``{"error": "<one line>"}`` (the page shows
it as is); ids in paths must be ids the server made; JSON bodies and uploads have size
limits checked from ``Content-Length`` before anything is read. Requests from another
site (an ``Origin`` that is not this server) are refused, so a web page the composer
visits cannot draft or upload through their studio.
"""
from __future__ import annotations

import contextlib
import json
import logging
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import RequestError, TunesmithError, WriteError
from ..sample.request import parse_bar_span
from . import files, uploads
from .engine import Engine
from .fields import build_request, form_spec
from .roll import roll_json
from .workdir import NotFound, Workdir

log = logging.getLogger("tunesmith.studio")

MAX_JSON = 256_000
"""Largest JSON body, in bytes (a form with a long song's lyrics fits)."""

STATIC = {"index.html": "text/html; charset=utf-8", "studio.js": "text/javascript; charset=utf-8",
          "studio.css": "text/css; charset=utf-8"}

PIECE_ACTIONS = {"bars": "regenerate bars", "continue": "continue", "part": "add or redo a part"}
PIECE_SETS = ("programs", "lyrics", "bars", "time_signature", "tempo", "pickup")
"""Form fields a piece action leaves to the piece itself (its parts, meter, tempo, length)."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())[:500]}, status_code=status)


async def _on_tunesmith_error(request: Request, exc: TunesmithError) -> JSONResponse:
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, WriteError) else 400
    return _error(status, request.app.state.workdir.scrub(exc.reason))


async def _on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return _error(exc.status_code, exc.detail or "bad request")


async def _on_crash(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return _error(500, f"internal error ({type(exc).__name__}); the studio goes on serving")


async def _json_body(request: Request) -> dict:
    if "json" not in request.headers.get("content-type", ""):
        raise RequestError("send the request as application/json")
    _size(request, MAX_JSON)
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise RequestError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RequestError("the request body must be a JSON object")
    return data


def _size(request: Request, limit: int) -> int:
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(411, "a Content-Length header is needed")
    if int(length) > limit:
        raise HTTPException(413, f"the request is {int(length) / 1e6:.1f} MB; at most {limit / 1e6:g} MB")
    return int(length)


def create_app(workdir: str | Path, model: str | None = None, device: str = "cpu",
               allowed_hosts: list[str] | None = None, start: bool = True) -> Starlette:
    """The studio app over ``workdir``; ``start`` loads ``model`` (default: the shipped
    one) in the drafting thread at once. ``allowed_hosts`` guards against DNS
    rebinding (the CLI passes the loopback names when bound to 127.0.0.1)."""
    store = Workdir(workdir)
    engine = Engine(store, model, device)

    def engine_of(request: Request) -> Engine:
        return request.app.state.engine

    async def index(request: Request) -> Response:
        return _static_file("index.html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise NotFound(f"no such file {name[:40]!r}")
        return _static_file(name)

    async def info(request: Request) -> JSONResponse:
        return JSONResponse({"model": engine.model_name(), "ready": engine.wait_ready(0),
                             "load_error": engine.load_error, "fields": form_spec(),
                             "downloads": list(files.DOWNLOADS), "limits": uploads.LIMITS,
                             "workdir": store.root.name})

    async def submit(request: Request) -> JSONResponse:
        body = await _json_body(request)
        action = body.get("action", "new")
        if not isinstance(action, str) or action != "new" and action not in PIECE_ACTIONS:
            raise RequestError(f"unknown action {str(action)[:30]!r}: new, {', '.join(PIECE_ACTIONS)}")
        form = body.get("form", {})
        if action != "new" and isinstance(form, dict):
            form = {k: v for k, v in form.items() if k not in PIECE_SETS}
        req, checks = build_request(form)
        piece = base = None
        if action in PIECE_ACTIONS:
            piece = str(body.get("piece"))
            item = files.version_item(store, piece)
            base = int(item.folder.name[1:])
            req.prompt = str(item.midi)
            if action == "bars":
                span = body.get("bars")
                if not isinstance(span, str):
                    raise RequestError("select the bars to regenerate (e.g. 3-4)")
                first, last = parse_bar_span(span)
                req.infill_bars = f"{first}-{last}"
            elif action == "continue":
                count = body.get("count")
                if not isinstance(count, int) or isinstance(count, bool):
                    raise RequestError("say how many bars to continue by")
                req.bars = count
            else:
                program = body.get("program")
                if not isinstance(program, str) or not program.strip():
                    raise RequestError("name the instrument of the part to add or redo")
                req.infill_program = program.strip()
        record = await run_in_threadpool(engine_of(request).submit, action, req, checks, piece, base)
        return JSONResponse(record, status_code=202)

    async def song(request: Request) -> JSONResponse:
        """A song for the words in the form's Lyrics box (`tunesmith song`)."""
        body = await _json_body(request)
        form = body.get("form", {})
        words = form.get("lyrics") if isinstance(form, dict) else None
        if not isinstance(words, str) or not words.strip():
            raise RequestError("write the song's words in the Lyrics box (one line a phrase, "
                               "a blank line between sections)")
        req, _ = build_request({k: v for k, v in form.items() if k != "lyrics"})
        extra = body.get("song", {})
        if not isinstance(extra, dict) or set(extra) - {"lang", "voice", "accompaniment"} \
                or not all(isinstance(v, str) for v in extra.values()):
            raise RequestError("song settings are lang, voice and accompaniment, as text")
        settings = {"key": req.key or "C major", "time_signature": req.time_signature or "4/4",
                    "chords": req.chords, "seed": req.seed, "num_samples": req.num_samples, **extra}
        if req.tempo is not None:
            settings["tempo"] = req.tempo
        record = await run_in_threadpool(engine_of(request).submit_song, words, settings)
        return JSONResponse(record, status_code=202)

    async def job(request: Request) -> JSONResponse:
        """The job; with ``?since=N`` only drafts from the N-th on (the page polls)."""
        record = engine_of(request).job(request.path_params["job"])
        since = request.query_params.get("since", "0")
        if not since.isdigit():
            raise RequestError("since must be a count of drafts already shown")
        return JSONResponse({**record, "drafts": record["drafts"][int(since):],
                             "drafts_count": len(record["drafts"])})

    async def cancel(request: Request) -> JSONResponse:
        return JSONResponse(engine_of(request).cancel(request.path_params["job"]))

    async def draft_file(request: Request) -> Response:
        p = request.path_params
        item = files.draft_item(store, p["job"], p["seed"])
        return await _send(store, item, p["fmt"])

    async def choose(request: Request) -> JSONResponse:
        body = await _json_body(request)
        record = engine_of(request).job(str(body.get("job", "")))
        seed = body.get("seed")
        draft = next((d for d in record["drafts"] if d["seed"] == seed), None)
        if draft is None or isinstance(seed, bool):
            raise NotFound(f"job {record['id']} has no draft with seed {str(seed)[:20]}")
        item = files.draft_item(store, record["id"], seed)
        info = {"action": record["action"], "job": record["id"], "seed": seed,
                "mean_log_likelihood": draft["mean_log_likelihood"],
                "originality": draft["originality"], "from_version": record["base_version"]}
        piece = await run_in_threadpool(store.add_version, record["piece"], item.midi, info,
                                        _title(record["request"]))
        return JSONResponse(piece_view(piece))

    def piece_view(piece: dict) -> dict:
        item = files.version_item(store, piece["id"])
        return {**piece, "roll": roll_json(files.read_item(item))}

    async def pieces(request: Request) -> JSONResponse:
        listed = [{k: p.get(k) for k in ("id", "title", "created", "current")}
                  | {"versions": len(p.get("versions", []))} for p in store.all("pieces")]
        return JSONResponse({"pieces": listed})

    async def piece(request: Request) -> JSONResponse:
        record = store.load("pieces", request.path_params["piece"])
        return JSONResponse(await run_in_threadpool(piece_view, record))

    async def undo(request: Request) -> JSONResponse:
        record = await run_in_threadpool(store.undo, request.path_params["piece"])
        return JSONResponse(piece_view(record))

    async def current(request: Request) -> JSONResponse:
        """Go to any version of the piece: ``{"version": N}``."""
        body = await _json_body(request)
        record = await run_in_threadpool(store.set_current, request.path_params["piece"], body.get("version"))
        return JSONResponse(piece_view(record))

    async def version_file(request: Request) -> Response:
        p = request.path_params
        item = files.version_item(store, p["piece"], p["n"])
        return await _send(store, item, p["fmt"])

    async def upload(request: Request) -> JSONResponse:
        _size(request, max(uploads.LIMITS.values()) + 100_000)
        try:
            form = await request.form(max_files=1, max_fields=8, max_part_size=100_000)
        except Exception:  # noqa: BLE001 - python-multipart's many parse errors
            raise RequestError("send the upload as a multipart form with one file") from None
        kind, sent = str(form.get("kind", "")), form.get("file")
        if sent is None or isinstance(sent, str):
            raise RequestError("the upload holds no file")
        if kind not in uploads.LIMITS:
            raise RequestError(f"unknown upload kind {kind[:20]!r}: choose {', '.join(uploads.LIMITS)}")
        data = await sent.read(uploads.LIMITS[kind] + 1)
        extra = {}
        if kind == "vocals":
            extra = {"offset": _number(form.get("offset"), "vocal offset"),
                     "gain": _number(form.get("gain"), "vocal gain")}
            from ..render.vocals import check_placement

            check_placement(extra["offset"], extra["gain"])
        elif kind == "hum":
            tempo = str(form.get("tempo") or "").strip()
            extra = {"tempo": _number(tempo, "tempo") if tempo else None}
            if extra["tempo"] is not None and not 20 <= extra["tempo"] <= 400:
                raise RequestError("tempo must be 20-400 quarter notes per minute")
        target = str(form.get("piece") or "") or None
        if kind == "vocals" and target:
            store.load("pieces", target)  # a bad piece id fails before the take is kept
        record = await run_in_threadpool(uploads.store, store, kind, sent.filename or "", data, extra)
        result: dict = {"upload": record}
        if kind in ("prompt", "hum"):
            midi = store.folder("uploads", record["id"]) / "score.mid"
            made = await run_in_threadpool(
                store.add_version, None, midi, {"action": "upload", "upload": record["id"]},
                f"{record['name']}")
            result["piece"] = piece_view(made)
        elif kind == "vocals" and target:
            made = store.set_vocals(target, {"upload": record["id"], "file": record["file"],
                                             "name": record["name"], "offset": extra["offset"],
                                             "gain": extra["gain"]})
            result["piece"] = piece_view(made)
        return JSONResponse(result)

    routes = [
        Route("/", index), Route("/static/{name}", static), Route("/api/info", info),
        Route("/api/jobs", submit, methods=["POST"]), Route("/api/jobs/{job}", job),
        Route("/api/songs", song, methods=["POST"]),
        Route("/api/jobs/{job}/cancel", cancel, methods=["POST"]),
        Route("/api/jobs/{job}/drafts/{seed:int}/{fmt}", draft_file),
        Route("/api/choose", choose, methods=["POST"]), Route("/api/pieces", pieces),
        Route("/api/pieces/{piece}", piece), Route("/api/pieces/{piece}/undo", undo, methods=["POST"]),
        Route("/api/pieces/{piece}/current", current, methods=["POST"]),
        Route("/api/pieces/{piece}/versions/{n:int}/{fmt}", version_file),
        Route("/api/uploads", upload, methods=["POST"]),
    ]
    middleware = [Middleware(_SameOrigin)]
    if allowed_hosts:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(engine.close)  # on shutdown: cancel, let the batch finish

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers={
        TunesmithError: _on_tunesmith_error, HTTPException: _on_http_error, Exception: _on_crash})
    app.state.engine, app.state.workdir = engine, store
    if start:
        engine.start()
    return app


async def _send(store: Workdir, item: files.Item, fmt: str) -> Response:
    if fmt == "roll":
        return JSONResponse(roll_json(await run_in_threadpool(files.read_item, item)))
    path = await run_in_threadpool(files.download, store, item, fmt)
    suffix = ".zip" if fmt in ("stems", "zip") else f".{fmt}"
    name = f"{item.name}{'.stems' if fmt == 'stems' else ''}{suffix}"
    return FileResponse(path, media_type=files.MEDIA[fmt], filename=name,
                        content_disposition_type="inline" if fmt == "wav" else "attachment")


def _static_file(name: str) -> Response:
    text = resources.files("tunesmith.studio").joinpath("static", name).read_bytes()
    return Response(text, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})


def _number(value, what: str) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        raise RequestError(f"{what} must be a number") from None


def _title(request: dict) -> str:
    parts = [request.get("key"), request.get("time_signature"),
             f"{request['bars']} bars" if request.get("bars") else None]
    return ", ".join(p for p in parts if p) or "untitled"


class _SameOrigin:
    """Refuse a request whose ``Origin`` header names another site (pure ASGI)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if origin and origin != "null" and origin.split("://", 1)[-1] != host:
                await _error(403, "requests from another site are refused")(scope, receive, send)
                return
        await self.app(scope, receive, send)
