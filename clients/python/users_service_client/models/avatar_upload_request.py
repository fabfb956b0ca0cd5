from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.avatar_upload_request_content_type import AvatarUploadRequestContentType

T = TypeVar("T", bound="AvatarUploadRequest")


@_attrs_define
class AvatarUploadRequest:
    """Body of `POST /users/{id}/avatar`.

    Attributes:
        content_type (AvatarUploadRequestContentType):
    """

    content_type: AvatarUploadRequestContentType

    def to_dict(self) -> dict[str, Any]:
        content_type = self.content_type.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "content_type": content_type,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        content_type = AvatarUploadRequestContentType(d.pop("content_type"))

        avatar_upload_request = cls(
            content_type=content_type,
        )

        return avatar_upload_request
