"""The one data converter every process uses: pydantic JSON, and a typed refusal for unreadable payloads.

A payload that is not JSON this service can read (empty, malformed, or nested deeper than the JSON
parser's limit of 200 levels) would otherwise fail the workflow task, and Temporal retries a failed
workflow task for ever. Raised as a non-retryable `ApplicationError`, it fails the start (the workflow
fails with type `InvalidData`) or rejects the update instead.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import CompositePayloadConverter, DataConverter, DefaultPayloadConverter
from temporalio.exceptions import ApplicationError

from models.contract import ErrorType

TYPE_ADAPTERS = functools.lru_cache(maxsize=1024)(TypeAdapter)
"""The type adapters every converter of the process reads payloads with. The SDK makes a new payload converter
for each workflow's and each activity's serialization context, and each would otherwise build its own adapters
(about 2 % of a fast-path worker's CPU); an adapter depends only on its type and is safe to share."""


class CheckedJSONPayloadConverter(PydanticJSONPlainPayloadConverter):
    def __init__(self) -> None:
        super().__init__()
        self._type_adapter = TYPE_ADAPTERS

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as err:
            unreadable = [e for e in err.errors() if e["type"] == "json_invalid"]
            if not unreadable:
                raise
            # Only the parser's own words (position and reason), never the payload: it may hold personal data.
            reason = str(unreadable[0].get("ctx", {}).get("error", "invalid JSON"))
            raise ApplicationError(f"payload is not readable JSON: {reason}", type=ErrorType.INVALID_DATA,
                                   non_retryable=True) from None


JSON_CONVERTER = CheckedJSONPayloadConverter()
ENCODING_CONVERTERS = tuple(JSON_CONVERTER if c.encoding == JSON_CONVERTER.encoding else c
                            for c in DefaultPayloadConverter.default_encoding_payload_converters)
"""The encoding converters, made once and shared by every payload converter of the process, as the SDK shares its
default ones: the SDK makes a payload converter for each workflow activation and activity (about 3 % of a fast-path
worker's CPU when each made its own). None keeps state between calls."""


class ClaimsPayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(*ENCODING_CONVERTERS)


data_converter = DataConverter(payload_converter_class=ClaimsPayloadConverter)
