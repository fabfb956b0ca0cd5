from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.user_deletion_pending_files import UserDeletionPendingFiles
from ..models.user_deletion_pending_identity_type_0 import UserDeletionPendingIdentityType0
from ..types import UNSET, Unset

T = TypeVar("T", bound="UserDeletionPending")


@_attrs_define
class UserDeletionPending:
    """202 to `DELETE /users/{id}`: the user is deleted; their files or identity are still to
    be deleted.

        Attributes:
            id (UUID): The deleted user's id.
            files (UserDeletionPendingFiles | Unset): `pending`: S3 did not confirm the deletion in time: it is retried
                until it does. Default: UserDeletionPendingFiles.PENDING.
            identity (None | Unset | UserDeletionPendingIdentityType0): `pending`: Cognito did not confirm that the person's
                identity is signed out and deleted: retried until it does; null where the service does not provision identities.
    """

    id: UUID
    files: UserDeletionPendingFiles | Unset = UserDeletionPendingFiles.PENDING
    identity: None | Unset | UserDeletionPendingIdentityType0 = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        files: str | Unset = UNSET
        if not isinstance(self.files, Unset):
            files = self.files.value

        identity: None | str | Unset
        if isinstance(self.identity, Unset):
            identity = UNSET
        elif isinstance(self.identity, UserDeletionPendingIdentityType0):
            identity = self.identity.value
        else:
            identity = self.identity

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
            }
        )
        if files is not UNSET:
            field_dict["files"] = files
        if identity is not UNSET:
            field_dict["identity"] = identity

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        _files = d.pop("files", UNSET)
        files: UserDeletionPendingFiles | Unset
        if isinstance(_files, Unset):
            files = UNSET
        else:
            files = UserDeletionPendingFiles(_files)

        def _parse_identity(data: object) -> None | Unset | UserDeletionPendingIdentityType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                identity_type_0 = UserDeletionPendingIdentityType0(data)

                return identity_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UserDeletionPendingIdentityType0, data)

        identity = _parse_identity(d.pop("identity", UNSET))

        user_deletion_pending = cls(
            id=id,
            files=files,
            identity=identity,
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
