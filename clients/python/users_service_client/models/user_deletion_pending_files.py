from enum import StrEnum


class UserDeletionPendingFiles(StrEnum):
    DELETED = "deleted"
    PENDING = "pending"

    def __str__(self) -> str:
        return str(self.value)
