"""Starlette's ``StaticFiles`` mounted at ``/static``, serving ``$STATIC_BENCH_DIR``."""

import os

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

app = Starlette(routes=[Mount("/static", StaticFiles(directory=os.environ["STATIC_BENCH_DIR"]))])
