"""CSRF protection for micropie-core's session-backed forms: ``App(config={"csrf": {}})``.

Installed, the ``csrf`` plugin is found through the ``micropie`` entry point and
stays off until the ``csrf`` section is given. Handlers get tokens from
:func:`csrf_token`; templates see ``csrf_token`` and ``csrf_input()``.
"""

from .protection import CsrfProtection
from .tokens import csrf_token, rotate_csrf_token

__all__ = ["CsrfProtection", "csrf_token", "rotate_csrf_token"]
