"""What routes ask for: a database session per request, typed path parameters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy.orm import Session

from lambda_app.db import get_engine


def get_session() -> Iterator[Session]:
    """Yield a session for one request; whatever it did not commit is rolled back."""
    with Session(get_engine(), expire_on_commit=False, autoflush=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
UserId = Annotated[uuid.UUID, Path(description="The user's id")]
