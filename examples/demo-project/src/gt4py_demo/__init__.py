"""A tiny demo package: publish it with gt4py-publish, then pip install it from the index."""

__version__ = "0.1.0"


def hello() -> str:
    return "Hello from gt4py-demo " + __version__
