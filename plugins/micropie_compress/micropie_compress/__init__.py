"""Response compression for micropie-core: gzip, and brotli or zstd when installed.

Installed, the ``compress`` plugin is found through the ``micropie`` entry point;
it is off until configured with ``App(config={"compress": {}})``.
"""

from .encodings import Coding, available_codings, choose
from .middleware import CompressMiddleware, Options
from .policy import mark_compressible, mark_sensitive

__all__ = ["Coding", "CompressMiddleware", "Options", "available_codings", "choose",
           "mark_compressible", "mark_sensitive"]
