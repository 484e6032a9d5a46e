"""CORS for micropie-core: ``App(config={"cors": {"allow_origins": [...]}})``.

Installed, the ``cors`` plugin is found through the ``micropie`` entry point; it
stays off until the ``cors`` section is given.
"""

from .middleware import CORSMiddleware
from .policy import CorsPolicy

__all__ = ["CORSMiddleware", "CorsPolicy"]
