"""Spans to OTLP/HTTP: the SDK's exporter, with the protobuf bytes written directly.

The SDK's encoder builds a protobuf object for every span, attribute and value before it
serialises them, which costs more CPU than making the span did. Here the same
``ExportTraceServiceRequest`` is written field by field as protobuf's wire format,
byte for byte what ``encode_spans(spans).SerializeToString()`` gives
(``otlp_test.py`` checks it against the SDK's own encoder), and sent by the SDK's
exporter, so its endpoint, headers, TLS, compression and retries still come from the
``OTEL_EXPORTER_OTLP_*`` variables.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind

# opentelemetry/proto/trace/v1/trace.proto: Span.SpanKind, SpanFlags.
_KINDS = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
_FIXED32 = struct.Struct("<I")


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64: ten bytes, two's complement
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [bytes((n,)) for n in range(0x80)]


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes or message)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _text(number: int, value: str | None) -> bytes:
    """A proto3 string field: nothing when empty."""
    return _field(number, value.encode()) if value else b""


def _count(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def _any_value(value: Any) -> bytes:
    """common.v1.AnyValue: a oneof, so a zero or empty value is still written."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10" + _varint(int(value))
    if isinstance(value, str):
        return _field(1, value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _field(7, value)
    if isinstance(value, Sequence):
        return _field(5, b"".join(_field(1, _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return _field(6, b"".join(_field(1, _key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"cannot encode {type(value).__name__} {value!r}")


def _key_value(key: str, value: Any) -> bytes:
    return _remembered_text(1, key) + _field(2, _any_value(value))


# The services' spans repeat most of their attributes (service, entrypoint, route):
# each pair is written once. Pairs with a value of their own each time (a request id)
# stop being remembered once there are this many.
_REMEMBERED_ATTRIBUTES = 4096
_attribute_bytes: dict[tuple[int, str, Any, type], bytes] = {}


def _attributes(number: int, attributes: Mapping[str, Any] | None) -> bytes:
    if not attributes:
        return b""
    out = bytearray()
    for key, value in attributes.items():
        # The type too: True == 1 and 1 == 1.0, but each is written differently.
        kind = type(value)
        remembered = (number, key, value, kind) if kind in _SCALARS else None
        encoded = _attribute_bytes.get(remembered) if remembered else None
        if encoded is None:
            encoded = _field(number, _key_value(key, value))
            if remembered and len(_attribute_bytes) < _REMEMBERED_ATTRIBUTES:
                _attribute_bytes[remembered] = encoded
        out += encoded
    return bytes(out)


# Names and attribute keys: the services use a handful of each.
_texts: dict[tuple[int, str], bytes] = {}


def _remembered_text(number: int, value: str) -> bytes:
    """`_text`, written once per field and value."""
    encoded = _texts.get((number, value))
    if encoded is None:
        encoded = _text(number, value)
        if len(_texts) < _REMEMBERED_ATTRIBUTES:
            _texts[number, value] = encoded
    return encoded


_SCALARS = {str, bool, int, float}


def _flags(number: int, parent: Any) -> bytes:
    flags = _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)
    return _varint(number << 3 | 5) + _FIXED32.pack(flags)


def _fixed64(number: int, value: int | None) -> bytes:
    return _varint(number << 3 | 1) + _FIXED64.pack(value) if value else b""


_START_AND_END = struct.Struct("<BQBQ")  # fields 7 and 8, fixed64, when both are set


def _times(start: int | None, end: int | None) -> bytes:
    if start and end:
        return _START_AND_END.pack(7 << 3 | 1, start, 8 << 3 | 1, end)
    return _fixed64(7, start) + _fixed64(8, end)


_KIND_FIELDS = {kind: b"\x30" + _SMALL[number] for kind, number in _KINDS.items()}
_LOCAL_PARENT_FLAGS = _flags(16, None)
_REMOTE_PARENT_FLAGS = b"\x85\x01" + _FIXED32.pack(_HAS_IS_REMOTE | _IS_REMOTE)
_UNSET_STATUS = _field(15, b"")


def encode_span(span: ReadableSpan) -> bytes:
    """One ``trace.v1.Span``, as the SDK's encoder writes it."""
    context = span.get_span_context()
    assert context is not None  # an SDK span always has one
    out = bytearray(b"\x0a\x10")
    out += context.trace_id.to_bytes(16, "big")
    out += b"\x12\x08"
    out += context.span_id.to_bytes(8, "big")
    if context.trace_state:
        out += _text(3, ",".join(f"{k}={v}" for k, v in context.trace_state.items()))
    parent = span.parent
    if parent is not None:
        out += b"\x22\x08"
        out += parent.span_id.to_bytes(8, "big")
    out += _remembered_text(5, span.name)
    out += _KIND_FIELDS[span.kind]
    out += _times(span.start_time, span.end_time)
    out += _attributes(9, span.attributes)
    out += _count(10, span.dropped_attributes)
    for event in span.events:
        body = _fixed64(1, event.timestamp) + _text(2, event.name)
        body += _attributes(3, event.attributes) + _count(4, event.dropped_attributes)
        out += _field(11, body)
    out += _count(12, span.dropped_events)
    for link in span.links:
        body = _field(1, link.context.trace_id.to_bytes(16, "big"))
        body += _field(2, link.context.span_id.to_bytes(8, "big"))
        body += _attributes(4, link.attributes) + _count(5, link.dropped_attributes)
        out += _field(13, body + _flags(6, link.context))
    out += _count(14, span.dropped_links)
    status = span.status
    if status.description or status.status_code.value:
        out += _field(15, _text(2, status.description) + _count(3, status.status_code.value))
    else:
        out += _UNSET_STATUS
    if parent is not None and parent.is_remote:
        out += _REMOTE_PARENT_FLAGS
    else:
        out += _LOCAL_PARENT_FLAGS
    return bytes(out)


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """An ``ExportTraceServiceRequest``: the spans grouped by resource, then by
    instrumentation scope, each group in the order its first span came."""
    # By identity first: a process has one resource and one scope, and a resource's hash
    # serialises its attributes. Equal ones then join, as the SDK groups them by equality.
    by_identity: dict[tuple[int, int], list[ReadableSpan]] = {}
    for span in spans:
        key = (id(span.resource), id(span.instrumentation_scope))
        by_identity.setdefault(key, []).append(span)
    grouped: dict[Any, dict[Any, list[bytes]]] = {}
    for members in by_identity.values():
        first = members[0]
        scopes = grouped.setdefault(first.resource, {})
        scopes.setdefault(first.instrumentation_scope, []).extend(map(encode_span, members))
    request = []
    for resource, scopes in grouped.items():
        scope_spans = []
        for scope, encoded in scopes.items():
            scope_message = b""
            if scope is not None:
                scope_message = _text(1, scope.name) + _text(2, scope.version)
                scope_message += _attributes(3, scope.attributes)
            body = _field(1, scope_message) + b"".join(_field(2, span) for span in encoded)
            if scope is not None:
                body += _text(3, scope.schema_url)
            scope_spans.append(_field(2, body))
        resource_message = _field(1, _attributes(1, resource.attributes))
        body = resource_message + b"".join(scope_spans) + _text(3, resource.schema_url)
        request.append(_field(1, body))
    return b"".join(request)


class OtlpBytesExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP exporter, sending the bytes `encode_spans` writes.

    It leaves out the exporter's own metrics of its exports (off unless
    ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``) and its cap on a request's size, which a
    batch of the processor's size stays far below.
    """

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        sent = self._client.export(encode_spans(spans))
        return SpanExportResult.SUCCESS if sent.success else SpanExportResult.FAILURE
