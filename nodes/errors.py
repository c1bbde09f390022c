"""Errors a handler raises to answer with a problem+json body.

The error middleware (``nodes.middleware``) is the one place that renders them::

    ApiError                      any answer that is not a success (status, type, detail)
     ├── BadRequest               400: malformed JSON, or a body of the wrong shape or types
     ├── Unauthorized             401: no token, or an invalid, expired or revoked one
     ├── Forbidden                403: authenticated, but not the owner
     ├── NotFound                 404
     ├── Conflict                 409: the same Idempotency-Key is still being processed
     ├── PreconditionFailed       412: If-Match names a stale version
     ├── PayloadTooLarge          413: the body is over the limit (1 MiB)
     ├── KeyReused                422: the same Idempotency-Key with another body
     ├── PreconditionRequired     428: PUT without If-Match
     └── Unavailable              503: Redis or the revocation store cannot be reached
          └── Overloaded          503 before any work: shed, X-Not-Processed, Retry-After

Bodies the node cannot accept are all 400 (malformed JSON and wrong fields alike), so that
422 means exactly one thing: an ``Idempotency-Key`` reused with another request.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error answer; ``extra`` members go into the problem object."""

    status = 500
    type_: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.type_ = type_ or self.type_
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401
    type_ = "invalid-token"


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409
    type_ = "request-in-progress"


class PreconditionFailed(ApiError):
    status = 412
    type_ = "stale-etag"


class PayloadTooLarge(ApiError):
    status = 413
    type_ = "payload-too-large"


class KeyReused(ApiError):
    status = 422
    type_ = "idempotency-key-reused"


class PreconditionRequired(ApiError):
    status = 428
    type_ = "if-match-required"


class Unavailable(ApiError):
    status = 503


#: The response header that tells the balancer a request was not processed at all (no work
#: done, nothing written), so it may send it again to another node whatever its method.
NOT_PROCESSED_HEADER = "X-Not-Processed"


class Overloaded(Unavailable):
    """Shed before any work: nothing was read, checked, issued or written; any node may retry."""

    type_ = "overloaded"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(
            detail, headers={"Retry-After": str(retry_after), NOT_PROCESSED_HEADER: "true"}
        )
