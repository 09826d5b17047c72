"""Build the FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from optimizer.api import errors
from optimizer.api.routes import router
from optimizer.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="gridgame optimizer",
        version="1.0.0",
        description="Exact best responses, equilibria and social optima of the energy market game.",
    )
    app.state.settings = settings or Settings()
    app.include_router(router)
    errors.install(app)
    return app
