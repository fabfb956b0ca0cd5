"""Domain errors raised below the routers; `problems.py` turns them into HTTP answers."""

from collections.abc import Mapping
from types import MappingProxyType


class ServiceError(Exception):
    """Base of the errors the service answers with a problem response."""

    status = 500
    title = "Internal Server Error"
    headers: Mapping[str, str] = MappingProxyType({})

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UserNotFoundError(ServiceError):
    """No user has the requested id."""

    status = 404
    title = "User not found"


class AvatarNotFoundError(ServiceError):
    """The user has no uploaded avatar."""

    status = 404
    title = "Avatar not found"


class EmailAlreadyExistsError(ServiceError):
    """Another user already has this email."""

    status = 409
    title = "Email already registered"


class DatabaseUnavailableError(ServiceError):
    """The database could not be reached or answered with a connection failure."""

    status = 503
    title = "Database unavailable"


class DatabaseTimeoutError(ServiceError):
    """A statement ran past the statement timeout and the server canceled it."""

    status = 503
    title = "Database timeout"
    headers = MappingProxyType({"Retry-After": "1"})


class ConcurrentChangeError(ServiceError):
    """Concurrent changes kept conflicting (serialization failures, deadlocks) after retries."""

    status = 503
    title = "Concurrent changes"
    headers = MappingProxyType({"Retry-After": "1"})


class StorageUnavailableError(ServiceError):
    """S3 refused, failed or timed out."""

    status = 502
    title = "File storage unavailable"


class StorageNotConfiguredError(ServiceError):
    """No S3 bucket is configured for this deployment."""

    status = 503
    title = "File storage not configured"


class NotAuthenticatedError(ServiceError):
    """The request carries no valid credentials."""

    status = 401
    title = "Not authenticated"
    headers = MappingProxyType({"WWW-Authenticate": "Bearer"})


class ForbiddenError(ServiceError):
    """The caller is known but may not do this."""

    status = 403
    title = "Forbidden"


class AuthNotConfiguredError(ServiceError):
    """Outside Lambda no token issuer, audience or key is configured."""

    status = 503
    title = "Authentication not configured"


class MissingEmailClaimError(ServiceError):
    """Registration needs the token's `email` claim, and it has none."""

    status = 422
    title = "Token has no email"


class InvalidPageRequestError(ServiceError):
    """A page cursor that this API did not give out, or a cursor mixed with an offset."""

    status = 422
    title = "Invalid page request"


class InvalidEmailClaimError(ServiceError):
    """The token's email claim is not a valid email address."""

    status = 422
    title = "Invalid email claim"


class LastAdminError(ServiceError):
    """The change would leave the service without an admin."""

    status = 409
    title = "Last admin"


class BootstrapConflictError(ServiceError):
    """bootstrap-admin was given an email and a subject that belong to two different users."""

    status = 409
    title = "Email and subject belong to different users"


class IdentityAlreadyRegisteredError(ServiceError):
    """A user is already linked to the caller's identity."""

    status = 409
    title = "Already registered"


class UserChangedError(ServiceError):
    """`If-Match` names a version of the user that is no longer the current one."""

    status = 412
    title = "User changed"


class TooManyEntityTagsError(ServiceError):
    """A conditional header names more entity tags than the API compares."""

    status = 400
    title = "Too many entity tags"


class InvalidIdempotencyKeyError(ServiceError):
    """The Idempotency-Key header is empty, too long or holds non-printable characters."""

    status = 400
    title = "Invalid idempotency key"


class IdempotencyKeyReusedError(ServiceError):
    """The Idempotency-Key was first used for a different request."""

    status = 422
    title = "Idempotency key reused"


class IdempotencyKeyInFlightError(ServiceError):
    """A request with the same Idempotency-Key is still being processed."""

    status = 409
    title = "Idempotency key in flight"
    headers = MappingProxyType({"Retry-After": "1"})


class IdentityProviderUnavailableError(ServiceError):
    """Cognito refused, failed or timed out."""

    status = 502
    title = "Identity provider unavailable"


class IdentityTakenError(ServiceError):
    """The email's identity in the user pool is already linked to another user."""

    status = 409
    title = "Identity linked to another user"
