"""`tunesmith studio`: a local web page to draft, listen, pick and refine.

Starts the studio app (`tunesmith.studio`) with uvicorn and prints its URL. It binds to
127.0.0.1 unless ``--host`` says otherwise: the studio has no login.
"""
from __future__ import annotations

import socket
import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "studio", help="a local web page: draft, listen, pick and refine",
        description="Start the studio, a web page on this machine where drafts are listened "
                    "to side by side, chosen, and reworked bar by bar or part by part.")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--model", help="a model folder (default: the shipped default model)")
    p.add_argument("--workdir", default="studio",
                   help="folder that keeps every piece, draft and upload (default ./studio)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import ModelError, RequestError

    if not 0 < args.port < 65536:
        raise RequestError(f"--port {args.port} is not a TCP port (1-65535)")
    _check_free(args.host, args.port)
    import uvicorn

    from ..studio import create_app

    loopback = args.host in LOOPBACK
    hosts = ["127.0.0.1", "localhost", "[::1]", "::1"] if loopback else None
    app = create_app(args.workdir, model=args.model, device=args.device, allowed_hosts=hosts)
    engine = app.state.engine
    engine.wait_ready()  # a model that cannot load is one line now, not a page of failed drafts
    if engine.load_error:
        raise ModelError(engine.load_error)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"tunesmith studio: http://{shown}:{args.port}/  (workdir {args.workdir}; Ctrl-C stops)",
          flush=True)
    if not loopback:
        print(f"tunesmith: warning: listening on {args.host}: anyone who can reach this machine "
              "can use the studio (it has no login)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _check_free(host: str, port: int) -> None:
    """A one-line error when the port is taken or the address is not this machine's."""
    from ..errors import RequestError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise RequestError(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                               "(another --port or --host?)") from None
