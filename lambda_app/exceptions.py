"""Domain errors raised below the routers; `problems.py` turns them into HTTP answers."""


class ServiceError(Exception):
    """Base of the errors the service answers with a problem response."""

    status = 500
    title = "Internal Server Error"

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


class StorageUnavailableError(ServiceError):
    """S3 refused, failed or timed out."""

    status = 502
    title = "File storage unavailable"


class StorageNotConfiguredError(ServiceError):
    """No S3 bucket is configured for this deployment."""

    status = 503
    title = "File storage not configured"
