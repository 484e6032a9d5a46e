"""Static files for micropie-core: a URL prefix served from directories or a package.

Installed, the ``static`` plugin is found through the ``micropie`` entry point; it
is off until configured with ``App(config={"static": {"directories": "static"}})``.
"""

from .files import StaticFiles
from .site import StaticSite, content_type_for, site_of, static_url

__all__ = ["StaticFiles", "StaticSite", "content_type_for", "site_of", "static_url"]
