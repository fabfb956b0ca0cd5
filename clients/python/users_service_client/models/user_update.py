from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.user_type import UserType
from ..types import UNSET, Unset

T = TypeVar("T", bound="UserUpdate")


@_attrs_define
class UserUpdate:
    """Body of `PATCH /users/{id}`: only the fields sent are changed.

    Attributes:
        email (None | str | Unset):
        full_name (None | str | Unset):
        user_type (None | Unset | UserType):
    """

    email: None | str | Unset = UNSET
    full_name: None | str | Unset = UNSET
    user_type: None | Unset | UserType = UNSET

    def to_dict(self) -> dict[str, Any]:
        email: None | str | Unset
        if isinstance(self.email, Unset):
            email = UNSET
        else:
            email = self.email

        full_name: None | str | Unset
        if isinstance(self.full_name, Unset):
            full_name = UNSET
        else:
            full_name = self.full_name

        user_type: None | str | Unset
        if isinstance(self.user_type, Unset):
            user_type = UNSET
        elif isinstance(self.user_type, UserType):
            user_type = self.user_type.value
        else:
            user_type = self.user_type

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if email is not UNSET:
            field_dict["email"] = email
        if full_name is not UNSET:
            field_dict["full_name"] = full_name
        if user_type is not UNSET:
            field_dict["user_type"] = user_type

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_email(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        email = _parse_email(d.pop("email", UNSET))

        def _parse_full_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        full_name = _parse_full_name(d.pop("full_name", UNSET))

        def _parse_user_type(data: object) -> None | Unset | UserType:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                user_type_type_0 = UserType(data)

                return user_type_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UserType, data)

        user_type = _parse_user_type(d.pop("user_type", UNSET))

        user_update = cls(
            email=email,
            full_name=full_name,
            user_type=user_type,
        )

        return user_update
