from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.avatar_upload_fields import AvatarUploadFields


T = TypeVar("T", bound="AvatarUpload")


@_attrs_define
class AvatarUpload:
    """A presigned S3 POST: send `fields` and then the file as multipart form data to `url`.

    Attributes:
        url (str):
        fields (AvatarUploadFields):
        key (str):
        expires_in (int): Seconds the upload stays allowed.
    """

    url: str
    fields: AvatarUploadFields
    key: str
    expires_in: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        url = self.url

        fields = self.fields.to_dict()

        key = self.key

        expires_in = self.expires_in

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "url": url,
                "fields": fields,
                "key": key,
                "expires_in": expires_in,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.avatar_upload_fields import AvatarUploadFields  # noqa: PLC0415

        d = dict(src_dict)
        url = d.pop("url")

        fields = AvatarUploadFields.from_dict(d.pop("fields"))

        key = d.pop("key")

        expires_in = d.pop("expires_in")

        avatar_upload = cls(
            url=url,
            fields=fields,
            key=key,
            expires_in=expires_in,
        )

        avatar_upload.additional_properties = d
        return avatar_upload

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
