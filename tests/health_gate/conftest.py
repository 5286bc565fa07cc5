from tests.support.fixtures import app, scripted

__all__ = ["app", "scripted"]
