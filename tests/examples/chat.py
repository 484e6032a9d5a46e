"""Loading examples/chat/app.py as the module it is when served (templates beside it)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support import ROOT

CHAT_DIR = ROOT / "examples" / "chat"


def load_chat() -> ModuleType:
    """Import examples/chat/app.py under the name ``chat_example``."""
    name = "chat_example"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CHAT_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the templates plugin finds templates/ beside it
    spec.loader.exec_module(module)
    return module
