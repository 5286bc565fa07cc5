from tests.support.fixtures import app, monitored_app, prometheus, scripted

__all__ = ["app", "monitored_app", "prometheus", "scripted"]
