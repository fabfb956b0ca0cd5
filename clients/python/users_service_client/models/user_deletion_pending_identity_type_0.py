from enum import StrEnum


class UserDeletionPendingIdentityType0(StrEnum):
    DELETED = "deleted"
    PENDING = "pending"

    def __str__(self) -> str:
        return str(self.value)
