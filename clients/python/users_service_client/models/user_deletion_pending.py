from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="UserDeletionPending")


@_attrs_define
class UserDeletionPending:
    """202 to `DELETE /users/{id}`: the user is deleted; their files are still to be deleted.

    Attributes:
        id (UUID): The deleted user's id.
        files (Literal['pending'] | Unset): S3 did not confirm the deletion in time: it is retried until it does.
            Default: 'pending'.
    """

    id: UUID
    files: Literal["pending"] | Unset = "pending"
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        files = self.files

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
            }
        )
        if files is not UNSET:
            field_dict["files"] = files

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        files = cast(Literal["pending"] | Unset, d.pop("files", UNSET))
        if files != "pending" and not isinstance(files, Unset):
            raise ValueError(f"files must match const 'pending', got '{files}'")

        user_deletion_pending = cls(
            id=id,
            files=files,
        )

        user_deletion_pending.additional_properties = d
        return user_deletion_pending

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
