"""The Lambda entry point: API Gateway events through Mangum into the FastAPI app."""

from __future__ import annotations

import logging

from mangum import Mangum

from lambda_app.config import get_settings
from lambda_app.main import create_app

# Per-container setup: runs once at init (and before a SnapStart snapshot), not per request.
settings = get_settings()
logging.getLogger().setLevel(settings.log_level)
app = create_app(settings)
handler = Mangum(app, lifespan="off", api_gateway_base_path=settings.api_base_path or "/")
