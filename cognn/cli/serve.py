"""``cognn-serve``: serve online action recognition to many skeleton streams at once (WebSocket, HTTP, a web page).

Every connection to ``ws://HOST:PORT/ws`` is one stream with its own session; the model steps of all streams with a
frame waiting run as one batch (cognn/serve/). ``POST /infer`` answers one clip; ``/`` is the web page client (its
MediaPipe files installed once with ``cognn-serve --setup-web``). docs/serve.md has the protocol and measurements.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import CognnError

PROG = "cognn-serve"
#: the npm package of the web page's pose landmarker (Apache-2.0), installed by --setup-web
WEB_PACKAGE = "@mediapipe/tasks-vision"
WEB_PACKAGE_VERSION = "1.1.0"


def default_web_cache() -> Path:
    """Where ``--setup-web`` installs the web page's npm package ($COGNN_WEB_CACHE, else ~/.cache/cognn/web)."""
    env = os.environ.get("COGNN_WEB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cognn" / "web"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Serve online action recognition to many skeleton streams at once: WebSocket streams "
                               "at /ws, one-off clips at POST /infer, a browser client at /.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  cognn-serve                                 # the bundled default model on 127.0.0.1:8765\n"
               "  cognn-serve --host 0.0.0.0 --token SECRET   # reachable from other machines, token required\n"
               "  cognn-serve --weights my.safetensors       # a checkpoint of yours (clients name it my)\n"
               "  cognn-serve --setup-web                     # install the web page's MediaPipe files (npm)\n")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--token", default=os.environ.get("COGNN_SERVE_TOKEN"),
                   help="token clients must send (required when --host is not local; default $COGNN_SERVE_TOKEN)")
    p.add_argument("--weights", action="append", default=[], metavar="FILE",
                   help="a checkpoint clients may name (by file name); repeatable. The bundled models are always "
                        "offered")
    p.add_argument("--model", default=None, help="the model of a hello that names none (default: the first "
                                                 "--weights, else the bundled default)")
    p.add_argument("--device", default="cpu", help="torch device of the model step (default cpu)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default=None,
                   help="the step's products (int8 is not batched exactly, so not offered)")
    p.add_argument("--queue", type=int, default=8, help="frames a stream may have waiting; older ones are dropped "
                                                        "(default 8)")
    p.add_argument("--capacity", type=int, default=16384, help="frames waiting on the whole server (default 16384)")
    p.add_argument("--max-message", type=int, default=256 * 1024, metavar="BYTES",
                   help="largest message a client may send (default 262144)")
    p.add_argument("--max-streams", type=int, default=4096, help="streams at once (default 4096)")
    p.add_argument("--preload", action="store_true", help="load the default model before listening")
    p.add_argument("--web-cache", type=Path, default=None,
                   help=f"where --setup-web put {WEB_PACKAGE} (default $COGNN_WEB_CACHE or ~/.cache/cognn/web)")
    p.add_argument("--setup-web", action="store_true",
                   help=f"install the web page's pose landmarker ({WEB_PACKAGE}, Apache-2.0) with npm and exit")
    return p


def setup_web(cache: Path) -> Path:
    """``npm install`` the web page's package into ``cache``; the folder the page's files are served from."""
    npm = shutil.which("npm")
    if npm is None:
        raise CognnError("npm is not installed: install Node.js (Debian: apt-get install npm) to set up the web page")
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache),
                    f"{WEB_PACKAGE}@{WEB_PACKAGE_VERSION}"], check=True)
    return web_files(cache)


def web_files(cache: Path) -> Path:
    """The installed package's folder (its ``vision_bundle.mjs`` and ``wasm/``)."""
    return cache / "node_modules" / "@mediapipe" / "tasks-vision"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cognn-serve``; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else 2
    cache = args.web_cache or default_web_cache()
    if args.setup_web:
        try:
            where = setup_web(cache)
        except (CognnError, subprocess.CalledProcessError, OSError) as e:
            print(f"{PROG}: error: {e}", file=sys.stderr, flush=True)
            return 2
        print(f"{PROG}: the web page's pose landmarker is in {where}", flush=True)
        return 0
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        print(f"{PROG}: error: cognn-serve needs aiohttp: pip install -c constraints.txt -e '.[serve]'",
              file=sys.stderr)
        return 2
    from ..serve.server import HOSTS, LOCAL_HOSTS, ServeConfig, make_app

    if args.host not in LOCAL_HOSTS and not args.token:
        print(f"{PROG}: error: listening on {args.host} (not this machine only) needs --token (or "
              "$COGNN_SERVE_TOKEN): clients then send it", file=sys.stderr)
        return 2
    for name, value in (("--queue", args.queue), ("--capacity", args.capacity), ("--max-message", args.max_message),
                        ("--max-streams", args.max_streams)):
        if value < 1:
            print(f"{PROG}: error: {name} must be at least 1", file=sys.stderr)
            return 2
    web = web_files(cache)
    cfg = ServeConfig(weights=list(args.weights), default_model=args.model, token=args.token, device=args.device,
                      precision=args.precision, queue=args.queue, capacity=args.capacity,
                      max_message=args.max_message, max_streams=args.max_streams,
                      web_cache=web if web.is_dir() else None)
    try:
        app = make_app(cfg)
        if args.preload:
            app[HOSTS].get(None)
    except CognnError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    from aiohttp import web as aioweb

    shown = f"[{args.host}]" if ":" in args.host else args.host

    def say(_: str) -> None:
        print(f"{PROG}: listening on http://{shown}:{args.port}/ (streams at ws://{shown}:{args.port}/ws); "
              f"Ctrl-C or SIGTERM stops it", flush=True)

    try:
        aioweb.run_app(app, host=args.host, port=args.port, print=say, access_log=None, shutdown_timeout=5.0,
                       handle_signals=True)
    except OSError as e:
        print(f"{PROG}: error: cannot listen on {args.host}:{args.port} ({e.strerror or e})", file=sys.stderr)
        return 2
    print(f"{PROG}: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
