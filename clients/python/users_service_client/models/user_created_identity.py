from enum import StrEnum


class UserCreatedIdentity(StrEnum):
    LINKED = "linked"
    PENDING = "pending"
    UNMANAGED = "unmanaged"

    def __str__(self) -> str:
        return str(self.value)
