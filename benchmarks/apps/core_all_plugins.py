"""micropie-core with every installed plugin active but unused by the endpoints."""

from apps.core import Root

app = Root()
