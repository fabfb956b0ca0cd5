from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.user_created_identity import UserCreatedIdentity
from ..models.user_type import UserType

T = TypeVar("T", bound="UserCreated")


@_attrs_define
class UserCreated:
    """201 to `POST /users`: the user, and where their sign-in identity stands.

    Attributes:
        id (UUID):
        email (str):
        full_name (None | str):
        user_type (UserType): What a user is to the business; stored as the PostgreSQL enum `user_type`.
        created_at (datetime.datetime):
        updated_at (datetime.datetime):
        identity (UserCreatedIdentity): `linked`: the person's Cognito identity exists and is this user's (invited
            unless `invite` was false); `pending`: Cognito did not answer in time, the identity is created by retries (and
            the invitation sent then); `unmanaged`: the service does not provision identities, the person is linked on first
            sign-in by verified email.
    """

    id: UUID
    email: str
    full_name: None | str
    user_type: UserType
    created_at: datetime.datetime
    updated_at: datetime.datetime
    identity: UserCreatedIdentity
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        email = self.email

        full_name: None | str
        full_name = self.full_name

        user_type = self.user_type.value

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        identity = self.identity.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "email": email,
                "full_name": full_name,
                "user_type": user_type,
                "created_at": created_at,
                "updated_at": updated_at,
                "identity": identity,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        email = d.pop("email")

        def _parse_full_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        full_name = _parse_full_name(d.pop("full_name"))

        user_type = UserType(d.pop("user_type"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        identity = UserCreatedIdentity(d.pop("identity"))

        user_created = cls(
            id=id,
            email=email,
            full_name=full_name,
            user_type=user_type,
            created_at=created_at,
            updated_at=updated_at,
            identity=identity,
        )

        user_created.additional_properties = d
        return user_created

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
