from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.user_type import UserType
from ..types import UNSET, Unset

T = TypeVar("T", bound="UserCreate")


@_attrs_define
class UserCreate:
    """Body of `POST /users`.

    Attributes:
        email (str):
        full_name (None | str | Unset):
        user_type (UserType | Unset): What a user is to the business; stored as the PostgreSQL enum `user_type`.
        invite (bool | Unset): Where the service provisions identities: Cognito emails the person an invitation with a
            temporary password; false creates the identity silently (imports). Default: True.
    """

    email: str
    full_name: None | str | Unset = UNSET
    user_type: UserType | Unset = UNSET
    invite: bool | Unset = True

    def to_dict(self) -> dict[str, Any]:
        email = self.email

        full_name: None | str | Unset
        if isinstance(self.full_name, Unset):
            full_name = UNSET
        else:
            full_name = self.full_name

        user_type: str | Unset = UNSET
        if not isinstance(self.user_type, Unset):
            user_type = self.user_type.value

        invite = self.invite

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "email": email,
            }
        )
        if full_name is not UNSET:
            field_dict["full_name"] = full_name
        if user_type is not UNSET:
            field_dict["user_type"] = user_type
        if invite is not UNSET:
            field_dict["invite"] = invite

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        email = d.pop("email")

        def _parse_full_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        full_name = _parse_full_name(d.pop("full_name", UNSET))

        _user_type = d.pop("user_type", UNSET)
        user_type: UserType | Unset
        if isinstance(_user_type, Unset):
            user_type = UNSET
        else:
            user_type = UserType(_user_type)

        invite = d.pop("invite", UNSET)

        user_create = cls(
            email=email,
            full_name=full_name,
            user_type=user_type,
            invite=invite,
        )

        return user_create
