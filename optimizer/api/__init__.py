"""The optimizer's HTTP service (FastAPI): ``create_app`` builds it."""

from optimizer.api.app import create_app

__all__ = ["create_app"]
