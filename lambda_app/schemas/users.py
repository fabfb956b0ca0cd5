"""What crosses the wire for users and their avatars."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from lambda_app.models.tables import EMAIL_MAX_LENGTH, FULL_NAME_MAX_LENGTH
from lambda_app.utils.user_type_enum import UserType


def _normalise_email(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _validate_email(value: str) -> str:
    # Deferred import: only requests that carry an email pay for loading the validator.
    from email_validator import EmailNotValidError, validate_email

    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as error:
        raise PydanticCustomError(
            "value_error", "value is not a valid email address: {reason}", {"reason": str(error)}
        ) from None


Email = Annotated[
    str,
    BeforeValidator(_normalise_email),
    StringConstraints(max_length=EMAIL_MAX_LENGTH),
    AfterValidator(_validate_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": EMAIL_MAX_LENGTH}),
]
FullName = Annotated[str, StringConstraints(max_length=FULL_NAME_MAX_LENGTH)]
# What any user may change on their own record; the rest is an admin's to change.
SELF_SERVICE_FIELDS = frozenset({"full_name"})
AvatarContentType = Literal["image/png", "image/jpeg", "image/webp"]


class UserCreate(BaseModel):
    """Body of `POST /users`."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    full_name: FullName | None = None
    user_type: UserType = UserType.CUSTOMER
    invite: bool = Field(
        default=True,
        description="Where the service provisions identities: Cognito emails the person an "
        "invitation with a temporary password; false creates the identity silently (imports).",
    )


class TokenEmail(BaseModel):
    """The verified email claim of a token, checked and normalised as a body's email is."""

    email: Email


class UserUpdate(BaseModel):
    """Body of `PATCH /users/{id}`: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    full_name: FullName | None = None
    user_type: UserType | None = None

    @field_validator("email", "user_type")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be changed but not cleared")
        return value

    def changes(self) -> dict[str, Any]:
        """Return the fields the client sent; `email` and `user_type` cannot be null."""
        return self.model_dump(exclude_unset=True)


class UserRead(BaseModel):
    """A user as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str | None
    user_type: UserType
    created_at: datetime
    updated_at: datetime


IdentityState = Literal["linked", "pending", "unmanaged"]


class UserCreated(UserRead):
    """201 to `POST /users`: the user, and where their sign-in identity stands."""

    identity: IdentityState = Field(
        description="`linked`: the person's Cognito identity exists and is this user's (invited "
        "unless `invite` was false); `pending`: Cognito did not answer in time, the identity is "
        "created by retries (and the invitation sent then); `unmanaged`: the service does not "
        "provision identities, the person is linked on first sign-in by verified email."
    )


class UserPage(BaseModel):
    """One page of users, ordered by `created_at`, then `id`."""

    items: list[UserRead]
    total: int = Field(description="Users matching the filters, on every page.")
    limit: int
    offset: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class UserDeletionPending(BaseModel):
    """202 to `DELETE /users/{id}`: the user is deleted; their files or identity are still to
    be deleted."""

    id: uuid.UUID = Field(description="The deleted user's id.")
    files: Literal["pending", "deleted"] = Field(
        default="pending",
        description="`pending`: S3 did not confirm the deletion in time: it is retried until "
        "it does.",
    )
    identity: Literal["pending", "deleted"] | None = Field(
        default=None,
        description="`pending`: Cognito did not confirm that the person's identity is signed "
        "out and deleted: retried until it does; null where the service does not provision "
        "identities.",
    )


class AvatarUploadRequest(BaseModel):
    """Body of `POST /users/{id}/avatar`."""

    model_config = ConfigDict(extra="forbid")

    content_type: AvatarContentType


class AvatarUpload(BaseModel):
    """A presigned S3 POST: send `fields` and then the file as multipart form data to `url`."""

    url: str
    fields: dict[str, str]
    key: str
    expires_in: int = Field(description="Seconds the upload stays allowed.")


class AvatarDownload(BaseModel):
    """A presigned S3 GET of the avatar."""

    url: str
    expires_in: int = Field(description="Seconds the link stays valid.")
