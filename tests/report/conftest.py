from tests.support.fixtures import prometheus, scripted

__all__ = ["prometheus", "scripted"]
