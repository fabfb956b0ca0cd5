"""The Lambda entry point: API Gateway events through Mangum into the FastAPI app."""

from __future__ import annotations

import logging
from typing import cast

from mangum import Mangum
from mangum.types import ASGI

from lambda_app.config import get_settings
from lambda_app.main import create_app, serve_under

# Per-container setup: runs once at init (and before a SnapStart snapshot), not per request.
settings = get_settings()
logging.getLogger().setLevel(settings.log_level)
app = create_app()
# Mangum keeps the stage prefix in the path; the app strips it as its root path, which
# also makes /docs point at {stage}/openapi.json.
handler = Mangum(cast(ASGI, serve_under(app, settings.api_base_path)), lifespan="off")
