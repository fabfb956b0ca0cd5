"""Contains all the data models used in inputs/outputs"""

from .avatar_download import AvatarDownload
from .avatar_upload import AvatarUpload
from .avatar_upload_fields import AvatarUploadFields
from .avatar_upload_request import AvatarUploadRequest
from .avatar_upload_request_content_type import AvatarUploadRequestContentType
from .field_error import FieldError
from .health_status import HealthStatus
from .health_status_status import HealthStatusStatus
from .problem import Problem
from .user_create import UserCreate
from .user_created import UserCreated
from .user_created_identity import UserCreatedIdentity
from .user_deletion_pending import UserDeletionPending
from .user_deletion_pending_files import UserDeletionPendingFiles
from .user_deletion_pending_identity_type_0 import UserDeletionPendingIdentityType0
from .user_page import UserPage
from .user_read import UserRead
from .user_type import UserType
from .user_update import UserUpdate

__all__ = (
    "AvatarDownload",
    "AvatarUpload",
    "AvatarUploadFields",
    "AvatarUploadRequest",
    "AvatarUploadRequestContentType",
    "FieldError",
    "HealthStatus",
    "HealthStatusStatus",
    "Problem",
    "UserCreate",
    "UserCreated",
    "UserCreatedIdentity",
    "UserDeletionPending",
    "UserDeletionPendingFiles",
    "UserDeletionPendingIdentityType0",
    "UserPage",
    "UserRead",
    "UserType",
    "UserUpdate",
)
