"""S3's conditional delete (``IfMatch`` on DeleteObject) with any botocore the runtime ships.

The Lambda runtime's SDK version depends on the runtime and the region, and AWS does not
publish it (infra/DEPLOY.md, "Conditional deletes and the runtime's SDK"). A botocore
whose S3 model predates ``IfMatch`` on DeleteObject refuses the parameter before sending
anything. Then the client sends the same ``If-Match`` header itself, signed like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

IF_MATCH = "IfMatch"
_CONTEXT_KEY = "users_service_if_match"


def accept_if_match_on_delete(client: S3Client) -> bool:
    """Make ``delete_object(IfMatch=...)`` work on ``client``; True when the model lacked it."""
    shape = client.meta.service_model.operation_model("DeleteObject").input_shape
    if shape is not None and IF_MATCH in shape.members:
        return False
    client.meta.events.register("before-parameter-build.s3.DeleteObject", _take_if_match)
    client.meta.events.register("before-call.s3.DeleteObject", _send_if_match)
    return True


def _take_if_match(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """Keep the ETag out of the parameters the old model would refuse."""
    etag = params.pop(IF_MATCH, None)
    if etag is not None:
        context[_CONTEXT_KEY] = etag


def _send_if_match(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """Send it as S3's If-Match header, before the request is signed."""
    etag = context.get(_CONTEXT_KEY)
    if etag is not None:
        params["headers"]["If-Match"] = etag
