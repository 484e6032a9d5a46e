"""Built-in plugin ``streaming``: generators returned by handlers stream the body."""
