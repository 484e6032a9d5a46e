"""Trusted hosts and proxy headers for micropie-core.

``App(config={"proxy": {"allowed_hosts": [...], "trusted_proxies": [...]}})``;
installed, the ``proxy`` plugin is found through the ``micropie`` entry point and
stays off until the ``proxy`` section is given.
"""

from .forwarded import Forwarded, ProxyList, parse_address
from .middleware import ProxyMiddleware

__all__ = ["Forwarded", "ProxyList", "ProxyMiddleware", "parse_address"]
