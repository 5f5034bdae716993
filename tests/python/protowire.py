"""Hand-written protobuf for Flight SQL messages (the venv has no protobuf package): enough
to build commands and actions byte by byte and to read the fields of an answer."""

from __future__ import annotations

SQL_TYPE = "type.googleapis.com/arrow.flight.protocol.sql."


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number: int, value: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(value)) + value


def any_msg(type_url: str, value: bytes) -> bytes:
    return field(1, type_url.encode()) + field(2, value)


def sql_any(message: str, value: bytes) -> bytes:
    return any_msg(SQL_TYPE + message, value)


def read_varint(data: bytes, at: int) -> tuple[int, int]:
    n, shift = 0, 0
    while True:
        b = data[at]
        at += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, at


def fields(data: bytes) -> dict[int, bytes]:
    """The length-delimited fields of a message, by number (varints as their value's bytes)."""
    out: dict[int, bytes] = {}
    at = 0
    while at < len(data):
        key, at = read_varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 2:
            size, at = read_varint(data, at)
            out[number] = data[at:at + size]
            at += size
        elif wire == 0:
            value, at = read_varint(data, at)
            out[number] = value.to_bytes(8, "little")
        else:
            raise ValueError(f"wire type {wire} in field {number}")
    return out


def unpack_any(data: bytes) -> tuple[str, bytes]:
    """(type_url, value) of a google.protobuf.Any."""
    f = fields(data)
    return f.get(1, b"").decode(), f.get(2, b"")
