"""The pynmon server and client fixtures of pynenc's pynmon suite."""

import functools

import pynmon.app
from pynenc_tests.integration.pynmon.conftest import *

# pynenc's pynmon_server fixture calls pynmon.app.setup_routes() on every server
# start, and each call nests every router once more, until FastAPI raises
# RecursionError after about 55 starts in one process. That is a quirk of the
# fixture, not of any state backend: the routes only need setting up once.
pynmon.app.setup_routes = functools.cache(pynmon.app.setup_routes)
