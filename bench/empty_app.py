"""What every FastAPI-on-Lambda user pays: one route under Mangum, lifespan off, no database."""

from __future__ import annotations

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI(title="Empty")


@app.get("/users/{user_id}")
def read_user(user_id: str) -> dict[str, str]:
    """Echo the id: the same path as the app's `GET /users/{id}`, no work behind it."""
    return {"id": user_id}


handler = Mangum(app, lifespan="off")
