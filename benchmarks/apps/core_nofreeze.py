"""micropie-core as in ``core.py`` but with ``gc.freeze`` off: the freeze's effect, same run."""

from apps.core import Root

app = Root(plugins=["sessions", "streaming"], config={"gc": {"freeze": False}})
