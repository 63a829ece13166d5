#!/usr/bin/env python3
"""Builds the golden vectors in protocol/vectors/*.vec.

The bytes are written with struct.pack straight from the layouts documented in
include/tachyon/protocol/*.h (the byte diagrams above each view), never by the
C++ encoders, so tests/unit/protocol/golden_vectors_test.cpp cross-checks the
C++ codec against an independent reading of the layout instead of echoing it.
The expected results of malformed inputs follow the check order documented at
the top of include/tachyon/protocol/frame.h and in DecodeDatagram.

Usage:
  scripts/gen-vectors.py            # rewrite protocol/vectors/*.vec
  scripts/gen-vectors.py --check    # exit 1 if the committed files differ
  scripts/gen-vectors.py --out DIR  # write elsewhere

Output is deterministic: running the script again reproduces the committed
files byte for byte. The format is described in protocol/vectors/README.md.
Standard library only.
"""

import argparse
import pathlib
import re
import struct
import sys
import textwrap

# --- Wire constants (include/tachyon/protocol/wire.h) ------------------------

PROTOCOL_VERSION = 1
HEADER_LENGTH = 16
FRAME_ALIGNMENT = 8
DEFAULT_MAX_FRAME_LENGTH = 64 * 1024
DATAGRAM_HEADER_LENGTH = 24

MESSAGE_TYPES = {
    "LOGON": 0x01,
    "LOGON_ACK": 0x02,
    "LOGON_REJECT": 0x03,
    "HEARTBEAT": 0x04,
    "LOGOUT": 0x05,
    "ERROR": 0x06,
    "OPEN_STREAM": 0x10,
    "OPEN_STREAM_ACK": 0x11,
    "SUBSCRIBE": 0x12,
    "SUBSCRIBE_ACK": 0x13,
    "UNSUBSCRIBE": 0x14,
    "GAP": 0x15,
    "UDP_SUBSCRIBE": 0x16,
    "PUBLISH": 0x20,
    "PUBLISH_ACK": 0x21,
    "DATA": 0x22,
    "REQUEST": 0x30,
    "RESPONSE": 0x31,
    "SERVICE_LOOKUP": 0x32,
    "SERVICE_LOOKUP_ACK": 0x33,
}
TYPE_NAMES = {code: name for name, code in MESSAGE_TYPES.items()}

ERROR_CODES = {
    "NONE": 0,
    "FRAME_TOO_SHORT": 1,
    "FRAME_TOO_LONG": 2,
    "UNSUPPORTED_VERSION": 3,
    "UNKNOWN_TYPE": 4,
    "BAD_PADDING": 5,
    "BAD_BODY_LENGTH": 6,
    "BAD_FIELD": 7,
    "UNEXPECTED_MESSAGE": 16,
    "NOT_AUTHORIZED": 17,
    "HEARTBEAT_TIMEOUT": 18,
    "SLOW_CONSUMER": 19,
    "SHUTTING_DOWN": 20,
    "LIMIT_EXCEEDED": 21,
    "UNKNOWN_STREAM": 32,
    "UNKNOWN_SUBSCRIPTION": 33,
    "DUPLICATE_SUBSCRIPTION": 34,
    "INVALID_NAME": 35,
    "BACK_PRESSURED": 36,
    "UNAVAILABLE": 37,
    "UDP_REFUSED": 38,
    "INTERNAL": 255,
}
START_MODES = {"LATEST": 0, "EARLIEST": 1, "SEQUENCE": 2}
RESPONSE_STATUSES = {
    "OK": 0,
    "NO_SUCH_SERVICE": 1,
    "TIMEOUT": 2,
    "UNAVAILABLE": 3,
    "BACKEND_ERROR": 4,
    "OVERLOADED": 5,
}
DATAGRAM_KINDS = {"DATA": 1, "PUBLISH": 2, "HEARTBEAT": 3}

FLAG_ACK_REQUESTED = 0x0001  # PUBLISH
FLAG_FATAL = 0x0001  # ERROR
FLAG_EPOCH = 0x0002  # LOGON_ACK, SUBSCRIBE_ACK (protocol version 2)

VECTOR_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def padded(length):
    return (length + FRAME_ALIGNMENT - 1) & ~(FRAME_ALIGNMENT - 1)


def enum_value(table, value):
    """Accepts a name from `table` or a raw integer (for malformed inputs)."""
    return table[value] if isinstance(value, str) else value


class Name(str):
    """A value written as an upper-case name (DATA, BACK_PRESSURED, ...)."""


# --- Byte segments -----------------------------------------------------------


class Seg:
    """A run of bytes printed as hex line(s) with a comment beside them.

    `groups` lists the widths of the hex groups on a single line (used for
    headers); None prints 8-byte groups, 32 bytes to a line.
    """

    def __init__(self, data, comment, groups=None):
        self.data = bytes(data)
        self.comment = comment
        self.groups = groups


def u8(value, what):
    return Seg(struct.pack("<B", value), f"{what} {value}")


def u16(value, what):
    return Seg(struct.pack("<H", value), f"{what} {value}")


def u32(value, what):
    return Seg(struct.pack("<I", value), f"{what} {value}")


def u64(value, what):
    return Seg(struct.pack("<Q", value), f"{what} {value}")


def i64(value, what):
    return Seg(struct.pack("<q", value), f"{what} {value}")


def printable(data):
    return all(0x20 <= b <= 0x7E and b not in (0x22, 0x5C) for b in data)


def blob(data, what):
    """A variable-length field; nothing at all when empty."""
    if not data:
        return []
    if printable(data) and len(data) <= 48:
        return [Seg(data, f'{what} "{data.decode("ascii")}"')]
    return [Seg(data, f"{what} ({len(data)} bytes)")]


def truncate(segs, n):
    """The first `n` bytes of `segs`, keeping the field comments."""
    out = []
    for seg in segs:
        if n <= 0:
            break
        if len(seg.data) <= n:
            out.append(seg)
        else:
            out.append(
                Seg(seg.data[:n],
                    f"{seg.comment} (cut after {n} of {len(seg.data)} bytes)",
                    seg.groups))
        n -= len(seg.data)
    return out


# --- Frames (one builder per documented layout) ------------------------------


class Frame:

    def __init__(self, type_name, segs, fields):
        self.type_name = type_name
        self.segs = segs
        self.fields = fields  # [(key, value)] as the test should see them

    @property
    def data(self):
        return b"".join(s.data for s in self.segs)


def header_seg(length, type_code, flags, stream_id, version, reserved):
    data = struct.pack("<IBBHII", length, version, type_code, flags, stream_id,
                       reserved)
    type_text = TYPE_NAMES.get(type_code, f"unknown type 0x{type_code:02x}")
    comment = (f"header: length {length}, version {version}, {type_text}, "
               f"flags 0x{flags:04x}, stream {stream_id}")
    if reserved:
        comment += f", reserved 0x{reserved:x}"
    return Seg(data, comment, groups=[4, 1, 1, 2, 4, 4])


def frame(type_name, body, fields, *, flags=0, stream_id=0, length=None,
          version=PROTOCOL_VERSION, type_code=None, reserved=0, padding=None,
          extra=b""):
    """Header + body + zero padding. Keyword overrides build malformed frames:
    `length` lies about the length, `extra` appends bytes the layout does not
    have, `padding` replaces the padding bytes."""
    if extra:
        body = body + [Seg(extra, f"{len(extra)} bytes beyond the layout")]
    actual = HEADER_LENGTH + sum(len(s.data) for s in body)
    if length is None:
        length = actual
    if type_code is None:
        type_code = MESSAGE_TYPES[type_name]
    segs = [header_seg(length, type_code, flags, stream_id, version, reserved)]
    segs += body
    if padding is None:
        padding = bytes(padded(actual) - actual)
    if padding:
        what = "padding" if not any(padding) else "padding, NOT zero"
        unit = "byte" if len(padding) == 1 else "bytes"
        segs.append(Seg(padding, f"{what} ({len(padding)} {unit})"))
    all_fields = [("length", length), ("flags", flags),
                  ("stream_id", stream_id)] + fields
    return Frame(type_name, segs, all_fields)


def logon(*, min_version=1, max_version=1, heartbeat_interval_ms=0, token=b"",
          client_name=b"", token_length=None, client_name_length=None,
          reserved=0, **hdr):
    # 16 u16 min_version, 18 u16 max_version, 20 u32 heartbeat_interval_ms,
    # 24 u16 token_length, 26 u16 client_name_length, 28 u32 reserved,
    # 32 token bytes, then client name bytes.
    body = [
        u16(min_version, "min_version"),
        u16(max_version, "max_version"),
        u32(heartbeat_interval_ms, "heartbeat_interval_ms"),
        u16(len(token) if token_length is None else token_length,
            "token_length"),
        u16(len(client_name) if client_name_length is None
            else client_name_length, "client_name_length"),
        u32(reserved, "reserved"),
        *blob(token, "token"),
        *blob(client_name, "client_name"),
    ]
    fields = [("min_version", min_version), ("max_version", max_version),
              ("heartbeat_interval_ms", heartbeat_interval_ms),
              ("token", token), ("client_name", client_name)]
    return frame("LOGON", body, fields, **hdr)


def logon_ack(*, version=1, heartbeat_interval_ms=1000,
              session_id=0x0123456789ABCDEF, max_frame_length=65536,
              reserved18=0, reserved36=0, epoch=None, **hdr):
    # Length 40: 16 u16 version, 18 u16 reserved, 20 u32 heartbeat_interval_ms,
    # 24 u64 session_id, 32 u32 max_frame_length, 36 u32 reserved.
    # The EPOCH form (flags bit 1, length 48) adds 40 u64 instance_epoch.
    # `epoch` not None writes the field and sets the flag unless `flags` says
    # otherwise (malformed variants).
    body = [
        u16(version, "version"),
        u16(reserved18, "reserved"),
        u32(heartbeat_interval_ms, "heartbeat_interval_ms"),
        u64(session_id, "session_id"),
        u32(max_frame_length, "max_frame_length"),
        u32(reserved36, "reserved"),
    ]
    if epoch is not None:
        body.append(u64(epoch, "instance_epoch"))
        hdr.setdefault("flags", FLAG_EPOCH)
    flagged = hdr.get("flags", 0) & FLAG_EPOCH
    fields = [("negotiated_version", version),
              ("heartbeat_interval_ms", heartbeat_interval_ms),
              ("session_id", session_id),
              ("max_frame_length", max_frame_length),
              ("instance_epoch", epoch if flagged and epoch else 0)]
    return frame("LOGON_ACK", body, fields, **hdr)


def error_like(type_name, *, code, text=b"", context=0, fatal=False,
               text_length=None, reserved=0, **hdr):
    # ERROR and LOGON_REJECT: 16 u16 code, 18 u16 text_length, 20 u32 reserved,
    # 24 u64 context, 32 text bytes. ERROR flag bit 0 = FATAL.
    if type_name == "ERROR" and "flags" not in hdr:
        hdr["flags"] = FLAG_FATAL if fatal else 0
    body = [
        u16(enum_value(ERROR_CODES, code), "code"),
        u16(len(text) if text_length is None else text_length, "text_length"),
        u32(reserved, "reserved"),
        u64(context, "context"),
        *blob(text, "text"),
    ]
    fields = [("code", Name(code) if isinstance(code, str) else code),
              ("fatal", type_name == "LOGON_REJECT" or fatal),
              ("context", context), ("text", text)]
    return frame(type_name, body, fields, **hdr)


def error(**kw):
    return error_like("ERROR", **kw)


def logon_reject(**kw):
    return error_like("LOGON_REJECT", **kw)


def heartbeat(*, timestamp_ns=1700000000123456789, **hdr):
    # Length 24: 16 i64 timestamp_ns.
    return frame("HEARTBEAT", [i64(timestamp_ns, "timestamp_ns")],
                 [("timestamp_ns", timestamp_ns)], **hdr)


def logout(*, reason="NONE", reserved18=0, reserved20=0, **hdr):
    # Length 24: 16 u16 reason, 18 u16 reserved, 20 u32 reserved.
    body = [
        u16(enum_value(ERROR_CODES, reason), "reason"),
        u16(reserved18, "reserved"),
        u32(reserved20, "reserved"),
    ]
    return frame("LOGOUT", body, [("reason", Name(reason))], **hdr)


def open_stream(*, request_id, name, name_length=None, reserved=0, **hdr):
    # 16 u32 request_id, 20 u16 reserved, 22 u16 name_length, 24 name bytes.
    body = [
        u32(request_id, "request_id"),
        u16(reserved, "reserved"),
        u16(len(name) if name_length is None else name_length, "name_length"),
        *blob(name, "name"),
    ]
    fields = [("request_id", request_id), ("name", name)]
    return frame("OPEN_STREAM", body, fields, **hdr)


def stream_ack(type_name, *, id, next_sequence, name, name_length=None,
               reserved=0, epoch=None, **hdr):
    # OPEN_STREAM_ACK and SUBSCRIBE_ACK: 16 u32 id, 20 u16 reserved,
    # 22 u16 name_length, 24 u64 next_sequence, 32 name bytes. The EPOCH form
    # of SUBSCRIBE_ACK (flags bit 1) puts 32 u64 instance_epoch before the
    # name, which moves to 40. `epoch` not None writes the field and sets the
    # flag unless `flags` says otherwise (malformed variants).
    body = [
        u32(id, "id"),
        u16(reserved, "reserved"),
        u16(len(name) if name_length is None else name_length, "name_length"),
        u64(next_sequence, "next_sequence"),
    ]
    if epoch is not None:
        body.append(u64(epoch, "instance_epoch"))
        hdr.setdefault("flags", FLAG_EPOCH)
    body += blob(name, "name")
    fields = [("id", id), ("next_sequence", next_sequence)]
    if type_name == "SUBSCRIBE_ACK":
        flagged = hdr.get("flags", 0) & FLAG_EPOCH
        fields.append(("instance_epoch", epoch if flagged and epoch else 0))
    fields.append(("name", name))
    return frame(type_name, body, fields, **hdr)


def open_stream_ack(**kw):
    return stream_ack("OPEN_STREAM_ACK", **kw)


def subscribe_ack(**kw):
    return stream_ack("SUBSCRIBE_ACK", **kw)


def subscribe(*, subscription_id, start_mode="LATEST", start_sequence=0, name,
              name_length=None, reserved=0, **hdr):
    # 16 u32 subscription_id, 20 u8 start_mode, 21 u8 reserved,
    # 22 u16 name_length, 24 u64 start_sequence, 32 name bytes.
    body = [
        u32(subscription_id, "subscription_id"),
        u8(enum_value(START_MODES, start_mode), "start_mode"),
        u8(reserved, "reserved"),
        u16(len(name) if name_length is None else name_length, "name_length"),
        u64(start_sequence, "start_sequence"),
        *blob(name, "name"),
    ]
    fields = [("subscription_id", subscription_id),
              ("start_mode", Name(start_mode) if isinstance(start_mode, str)
               else start_mode),
              ("start_sequence", start_sequence), ("name", name),
              ("is_pattern", name.endswith(b"*"))]
    return frame("SUBSCRIBE", body, fields, **hdr)


def unsubscribe(*, subscription_id, reserved=0, **hdr):
    # Length 24: 16 u32 subscription_id, 20 u32 reserved.
    body = [u32(subscription_id, "subscription_id"), u32(reserved, "reserved")]
    return frame("UNSUBSCRIBE", body, [("subscription_id", subscription_id)],
                 **hdr)


def udp_subscribe(*, subscription_id, port, address, name, name_length=None,
                  reserved=0, **hdr):
    # 16 u32 subscription_id, 20 u16 port, 22 u16 name_length,
    # 24 4 bytes IPv4 address (network byte order), 28 u32 reserved,
    # 32 name bytes.
    body = [
        u32(subscription_id, "subscription_id"),
        u16(port, "port"),
        u16(len(name) if name_length is None else name_length, "name_length"),
        Seg(address, "address " + ".".join(str(b) for b in address)),
        u32(reserved, "reserved"),
        *blob(name, "name"),
    ]
    fields = [("subscription_id", subscription_id), ("port", port),
              ("address", address), ("name", name)]
    return frame("UDP_SUBSCRIBE", body, fields, **hdr)


def gap(*, from_sequence, to_sequence, **hdr):
    # Length 32: 16 u64 from_sequence, 24 u64 to_sequence (inclusive).
    body = [u64(from_sequence, "from_sequence"), u64(to_sequence, "to_sequence")]
    fields = [("from_sequence", from_sequence), ("to_sequence", to_sequence)]
    return frame("GAP", body, fields, **hdr)


def publish(*, correlation_id, payload=b"", ack=False, **hdr):
    # Flags bit 0 ACK_REQUESTED. 16 u64 correlation_id, 24 payload.
    if "flags" not in hdr:
        hdr["flags"] = FLAG_ACK_REQUESTED if ack else 0
    body = [u64(correlation_id, "correlation_id"), *blob(payload, "payload")]
    fields = [("correlation_id", correlation_id), ("ack_requested", ack),
              ("payload", payload)]
    return frame("PUBLISH", body, fields, **hdr)


def publish_ack(*, correlation_id, sequence, status="NONE", reserved34=0,
                reserved36=0, **hdr):
    # Length 40: 16 u64 correlation_id, 24 u64 sequence, 32 u16 status,
    # 34 u16 reserved, 36 u32 reserved.
    body = [
        u64(correlation_id, "correlation_id"),
        u64(sequence, "sequence"),
        u16(enum_value(ERROR_CODES, status), "status"),
        u16(reserved34, "reserved"),
        u32(reserved36, "reserved"),
    ]
    fields = [("correlation_id", correlation_id), ("sequence", sequence),
              ("status", Name(status) if isinstance(status, str) else status)]
    return frame("PUBLISH_ACK", body, fields, **hdr)


def data(*, sequence, timestamp_ns=1700000000000001000, payload=b"", **hdr):
    # 16 u64 sequence, 24 i64 timestamp_ns, 32 payload.
    body = [
        u64(sequence, "sequence"),
        i64(timestamp_ns, "timestamp_ns"),
        *blob(payload, "payload"),
    ]
    fields = [("sequence", sequence), ("timestamp_ns", timestamp_ns),
              ("payload", payload)]
    return frame("DATA", body, fields, **hdr)


def request(*, correlation_id, service_id, timeout_ms=0, payload=b"", **hdr):
    # 16 u64 correlation_id, 24 u32 service_id, 28 u32 timeout_ms, 32 payload.
    body = [
        u64(correlation_id, "correlation_id"),
        u32(service_id, "service_id"),
        u32(timeout_ms, "timeout_ms"),
        *blob(payload, "payload"),
    ]
    fields = [("correlation_id", correlation_id), ("service_id", service_id),
              ("timeout_ms", timeout_ms), ("payload", payload)]
    return frame("REQUEST", body, fields, **hdr)


def response(*, correlation_id, service_id, status="OK", payload=b"",
             reserved=0, **hdr):
    # 16 u64 correlation_id, 24 u32 service_id, 28 u16 status,
    # 30 u16 reserved, 32 payload.
    body = [
        u64(correlation_id, "correlation_id"),
        u32(service_id, "service_id"),
        u16(enum_value(RESPONSE_STATUSES, status), "status"),
        u16(reserved, "reserved"),
        *blob(payload, "payload"),
    ]
    fields = [("correlation_id", correlation_id), ("service_id", service_id),
              ("status", Name(status) if isinstance(status, str) else status),
              ("payload", payload)]
    return frame("RESPONSE", body, fields, **hdr)


def service_lookup(*, correlation_id, name, name_length=None, reserved26=0,
                   reserved28=0, **hdr):
    # 16 u64 correlation_id, 24 u16 name_length, 26 u16 reserved,
    # 28 u32 reserved, 32 name.
    if name_length is None:
        name_length = len(name)
    body = [
        u64(correlation_id, "correlation_id"),
        u16(name_length, "name_length"),
        u16(reserved26, "reserved"),
        u32(reserved28, "reserved"),
        *blob(name, "name"),
    ]
    fields = [("correlation_id", correlation_id), ("name", name)]
    return frame("SERVICE_LOOKUP", body, fields, **hdr)


def service_lookup_ack(*, correlation_id, service_id, reserved=0, **hdr):
    # 16 u64 correlation_id, 24 u32 service_id (0 = no such name),
    # 28 u32 reserved.
    body = [
        u64(correlation_id, "correlation_id"),
        u32(service_id, "service_id"),
        u32(reserved, "reserved"),
    ]
    fields = [("correlation_id", correlation_id), ("service_id", service_id)]
    return frame("SERVICE_LOOKUP_ACK", body, fields, **hdr)


# --- Datagrams (include/tachyon/protocol/datagram.h) -------------------------


def datagram_header_seg(version, kind_code, count, stream_id, first_sequence,
                        source_id):
    # 0 u8 version, 1 u8 kind, 2 u16 message_count, 4 u32 stream id,
    # 8 u64 first_sequence, 16 u64 source_id.
    data_ = struct.pack("<BBHIQQ", version, kind_code, count, stream_id,
                        first_sequence, source_id)
    kinds = {code: name for name, code in DATAGRAM_KINDS.items()}
    kind_text = kinds.get(kind_code, f"unknown kind {kind_code}")
    comment = (f"datagram header: version {version}, {kind_text}, "
               f"count {count}, stream {stream_id}, first_sequence "
               f"{first_sequence}, source_id 0x{source_id:x}")
    return Seg(data_, comment, groups=[1, 1, 2, 4, 8, 8])


# --- SipHash-2-4 with a 128-bit output (the version-2 datagram MAC) ----------
# Written from the SipHash paper (Aumasson, Bernstein) and its reference
# code's 128-bit variant, independently of libsodium, which the C++ uses.

MAC_TEST_KEY = bytes(range(16))  # 000102..0f, the key of every v2 vector


def siphash24_128(key, message):
    mask = (1 << 64) - 1

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & mask

    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]
    v[1] ^= 0xEE

    def rounds(n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & mask
            v[1] = rotl(v[1], 13) ^ v[0]
            v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & mask
            v[3] = rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & mask
            v[3] = rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & mask
            v[1] = rotl(v[1], 17) ^ v[2]
            v[2] = rotl(v[2], 32)

    whole = len(message) - len(message) % 8
    for i in range(0, whole, 8):
        (m,) = struct.unpack_from("<Q", message, i)
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    last = (len(message) & 0xFF) << 56
    for i, b in enumerate(message[whole:]):
        last |= b << (8 * i)
    v[3] ^= last
    rounds(2)
    v[0] ^= last
    v[2] ^= 0xEE
    rounds(4)
    out = struct.pack("<Q", v[0] ^ v[1] ^ v[2] ^ v[3])
    v[1] ^= 0xDD
    rounds(4)
    return out + struct.pack("<Q", v[0] ^ v[1] ^ v[2] ^ v[3])


# The reference implementation's first 128-bit test vector (empty input).
assert siphash24_128(MAC_TEST_KEY, b"").hex() == \
    "a3817f04ba25a8e66df67214c7550293", "SipHash-2-4-128 self-test"


# --- Vectors -----------------------------------------------------------------


class Vector:

    def __init__(self, name, doc, kind="frame", max_frame_length=None):
        assert VECTOR_NAME.match(name), name
        self.name = name
        self.doc = doc
        self.kind = kind
        self.max_frame_length = max_frame_length
        self.segs = []
        self.expects = []  # (what, argument, fields)

    def add_frame(self, f, expect=True):
        self.segs += f.segs
        if expect:
            self.expects.append(("frame", f.type_name, f.fields))
        return self


def valid(name, doc, *frames, max_frame_length=None):
    v = Vector(name, doc, max_frame_length=max_frame_length)
    for f in frames:
        v.add_frame(f)
    return v


def malformed(name, doc, segs, result, *, before=(), max_frame_length=None):
    """`before`: valid frames that precede the malformed bytes.
    `result`: an ErrorCode name, or "incomplete"."""
    v = Vector(name, doc, max_frame_length=max_frame_length)
    for f in before:
        v.add_frame(f)
    v.segs += segs.segs if isinstance(segs, Frame) else segs
    if result == "incomplete":
        v.expects.append(("incomplete", None, []))
    else:
        assert result in ERROR_CODES, result
        v.expects.append(("error", result, []))
    return v


def datagram(name, doc, kind, *, stream_id, first_sequence, source_id,
             frames=(), count=None, version=PROTOCOL_VERSION, kind_code=None,
             trailing=b"", cut=None, result=None, max_frame_length=None):
    """A datagram of `frames`. Overrides build malformed ones (`cut` keeps
    only the first bytes); `result` is the expected ErrorCode name, or None for
    a valid datagram."""
    v = Vector(name, doc, kind="datagram", max_frame_length=max_frame_length)
    if count is None:
        count = len(frames)
    if kind_code is None:
        kind_code = DATAGRAM_KINDS[kind]
    v.segs.append(datagram_header_seg(version, kind_code, count, stream_id,
                                      first_sequence, source_id))
    for f in frames:
        v.segs += f.segs if isinstance(f, Frame) else f
    if trailing:
        v.segs.append(Seg(trailing, f"{len(trailing)} bytes after the frames"))
    if cut is not None:
        v.segs = truncate(v.segs, cut)
    if result is None:
        v.expects.append(("datagram", kind, [
            ("message_count", count), ("stream_id", stream_id),
            ("first_sequence", first_sequence), ("source_id", source_id)]))
        for f in frames:
            v.expects.append(("frame", f.type_name, f.fields))
    else:
        assert result in ERROR_CODES, result
        v.expects.append(("error", result, []))
    return v


def auth_datagram(name, doc, kind, *, stream_id, first_sequence, source_id,
                  producer_id, frames=(), count=None, reserved=0,
                  trailing=b"", flip_mac_bit=None, key=MAC_TEST_KEY, cut=None,
                  result=None):
    """A version-2 datagram: the version-1 header with version 2, producer_id
    and a reserved u32, the frames, then the SipHash-2-4-128 MAC under `key`
    of every byte before it. `flip_mac_bit` corrupts the MAC (the datagram
    still decodes; mac_valid is then false)."""
    v = Vector(name, doc, kind="datagram")
    if count is None:
        count = len(frames)
    v.segs.append(datagram_header_seg(2, DATAGRAM_KINDS[kind], count,
                                      stream_id, first_sequence, source_id))
    v.segs.append(Seg(struct.pack("<II", producer_id, reserved),
                      f"producer_id {producer_id}, reserved {reserved}",
                      groups=[4, 4]))
    for f in frames:
        v.segs += f.segs if isinstance(f, Frame) else f
    if trailing:
        v.segs.append(Seg(trailing, f"{len(trailing)} bytes after the frames"))
    covered = b"".join(seg.data for seg in v.segs)
    mac = bytearray(siphash24_128(key, covered))
    what = "mac: SipHash-2-4-128 of the bytes above under the test key"
    if flip_mac_bit is not None:
        mac[flip_mac_bit // 8] ^= 1 << (flip_mac_bit % 8)
        what = f"mac with bit {flip_mac_bit} flipped"
    v.segs.append(Seg(bytes(mac), what))
    if cut is not None:
        v.segs = truncate(v.segs, cut)
    if result is None:
        v.expects.append(("datagram", kind, [
            ("message_count", count), ("stream_id", stream_id),
            ("first_sequence", first_sequence), ("source_id", source_id),
            ("version", 2), ("producer_id", producer_id),
            ("mac_key", MAC_TEST_KEY), ("mac", bytes(mac)),
            ("mac_valid", flip_mac_bit is None)]))
        for f in frames:
            v.expects.append(("frame", f.type_name, f.fields))
    else:
        assert result in ERROR_CODES, result
        v.expects.append(("error", result, []))
    return v


# --- The vectors, by file ----------------------------------------------------

MD = b"md.eq.AAPL"
LOOP = bytes([127, 0, 0, 1])  # 127.0.0.1 in network byte order
SOURCE = 0x5441434859304E31  # any non-zero id
EPOCH = 0x8877665544332211  # a gateway run's instance epoch, all 8 bytes used


def session_vectors():
    return [
        valid("logon_token_and_name",
              "LOGON with a token and a client name; 47 bytes padded to 48.",
              logon(heartbeat_interval_ms=1000, token=b"secret",
                    client_name=b"md-feed-1")),
        valid("logon_empty_token_and_name",
              "LOGON with both variable fields empty: exactly the 32-byte "
              "fixed part, no padding.",
              logon()),
        valid("logon_version_range_binary_token",
              "LOGON offering versions 1..3 with a binary token (not UTF-8, "
              "with quote, backslash and hash bytes) and 4 bytes of padding.",
              logon(min_version=1, max_version=3, heartbeat_interval_ms=250,
                    token=bytes([0x00, 0x01, 0x7F, 0x80, 0xFF, 0x22, 0x5C,
                                 0x23]),
                    client_name=b"risk")),
        valid("logon_max_length_fields",
              "LOGON with a 255-byte token and a 255-byte client name, the "
              "largest allowed.",
              logon(token=bytes(range(1, 256)), client_name=b"n" * 255)),
        valid("logon_ack",
              "LOGON_ACK: version 1, 1000 ms heartbeats, a session id using "
              "all 8 bytes, 64 KiB frames.",
              logon_ack()),
        valid("logon_ack_large_frames",
              "LOGON_ACK announcing the 16 MiB frame ceiling.",
              logon_ack(heartbeat_interval_ms=30000, session_id=1,
                        max_frame_length=16 * 1024 * 1024)),
        valid("logon_version_1_to_2",
              "LOGON offering protocol versions 1..2: a client that "
              "understands the instance epoch, and works with a gateway that "
              "speaks only version 1.",
              logon(min_version=1, max_version=2, heartbeat_interval_ms=1000,
                    client_name=b"tachyon-client")),
        valid("logon_ack_epoch",
              "LOGON_ACK granting protocol version 2: the EPOCH form (flags "
              "0x0002, 48 bytes) carrying the gateway's instance epoch.",
              logon_ack(version=2, epoch=EPOCH)),
        valid("logon_reject_not_authorized",
              "LOGON_REJECT: NOT_AUTHORIZED with a text; always fatal, flags "
              "and stream id 0.",
              logon_reject(code="NOT_AUTHORIZED", text=b"bad token")),
        valid("logon_reject_no_text",
              "LOGON_REJECT: UNSUPPORTED_VERSION without text (32 bytes).",
              logon_reject(code="UNSUPPORTED_VERSION")),
        valid("heartbeat",
              "HEARTBEAT with a realistic CLOCK_REALTIME timestamp.",
              heartbeat()),
        valid("heartbeat_negative_timestamp",
              "HEARTBEAT timestamp is signed: -1 must read back as -1.",
              heartbeat(timestamp_ns=-1)),
        valid("logout_normal", "LOGOUT with reason 0 (normal close).",
              logout()),
        valid("logout_shutting_down", "LOGOUT with reason SHUTTING_DOWN.",
              logout(reason="SHUTTING_DOWN")),
        valid("error_fatal_slow_consumer",
              "ERROR with the FATAL flag, naming stream 7.",
              error(code="SLOW_CONSUMER", fatal=True, stream_id=7,
                    text=b"subscriber fell behind")),
        valid("error_nonfatal_unknown_stream",
              "Non-fatal ERROR with a context (the PUBLISH correlation id) "
              "and no text.",
              error(code="UNKNOWN_STREAM", stream_id=9, context=42)),
        valid("error_nonfatal_text_aligned",
              "Non-fatal ERROR whose 8-byte text needs no padding; context "
              "uses all 8 bytes.",
              error(code="DUPLICATE_SUBSCRIPTION", context=0xFEDCBA9876543210,
                    text=b"sub 0x10")),
        valid("error_fatal_max_text",
              "Fatal ERROR carrying the longest allowed text (1024 bytes).",
              error(code="INTERNAL", fatal=True, text=b"x" * 1024)),
    ]


def stream_vectors():
    return [
        valid("open_stream", "OPEN_STREAM binding md.eq.AAPL (34 -> 40 bytes).",
              open_stream(request_id=1, name=MD)),
        valid("open_stream_name_aligned",
              "OPEN_STREAM with an 8-byte name: no padding.",
              open_stream(request_id=0xFFFFFFFF, name=b"orders.1")),
        valid("open_stream_ack",
              "OPEN_STREAM_ACK: stream 7 bound, the next publish gets "
              "sequence 1.",
              open_stream_ack(stream_id=7, id=1, next_sequence=1, name=MD)),
        valid("subscribe_latest_exact", "SUBSCRIBE to one stream from latest.",
              subscribe(subscription_id=1, name=MD)),
        valid("subscribe_earliest_exact",
              "SUBSCRIBE to one stream from the earliest retained message.",
              subscribe(subscription_id=2, start_mode="EARLIEST", name=MD)),
        valid("subscribe_sequence_exact",
              "SUBSCRIBE replaying one stream from sequence 1000.",
              subscribe(subscription_id=3, start_mode="SEQUENCE",
                        start_sequence=1000, name=MD)),
        valid("subscribe_latest_pattern",
              "SUBSCRIBE to the prefix pattern md.eq.* from latest.",
              subscribe(subscription_id=4, name=b"md.eq.*")),
        valid("subscribe_earliest_pattern_all",
              "SUBSCRIBE to the lone pattern '*' (every stream) from "
              "earliest.",
              subscribe(subscription_id=5, start_mode="EARLIEST", name=b"*")),
        valid("subscribe_sequence_pattern",
              "SUBSCRIBE to a pattern from sequence 1 (the first of each "
              "stream).",
              subscribe(subscription_id=0xFFFFFFFF, start_mode="SEQUENCE",
                        start_sequence=1, name=b"telemetry.*")),
        valid("subscribe_ack_exact",
              "SUBSCRIBE_ACK for an exact subscription: stream 7, first "
              "delivered sequence 1000.",
              subscribe_ack(stream_id=7, id=3, next_sequence=1000, name=MD)),
        valid("subscribe_ack_pattern",
              "The pattern ack: SUBSCRIBE_ACK with stream id 0, next_sequence "
              "0 and the pattern as the name.",
              subscribe_ack(stream_id=0, id=4, next_sequence=0,
                            name=b"md.eq.*")),
        valid("subscribe_ack_pattern_match",
              "A SUBSCRIBE_ACK naming one stream matched by a pattern "
              "subscription.",
              subscribe_ack(stream_id=12, id=4, next_sequence=88,
                            name=b"md.eq.MSFT")),
        valid("subscribe_ack_epoch_exact",
              "SUBSCRIBE_ACK in a version-2 session (EPOCH form): stream 7, "
              "first delivered sequence 1000, the instance epoch at 32 and "
              "the name at 40.",
              subscribe_ack(stream_id=7, id=3, next_sequence=1000, name=MD,
                            epoch=EPOCH)),
        valid("subscribe_ack_epoch_pattern",
              "The pattern ack in its EPOCH form: stream id 0, next_sequence "
              "0, the pattern at 40 (47 bytes, 1 of padding).",
              subscribe_ack(stream_id=0, id=4, next_sequence=0,
                            name=b"md.eq.*", epoch=EPOCH)),
        valid("subscribe_ack_epoch_already_delivered",
              "EPOCH-form stream ack with next_sequence 0 (the stream is "
              "already being delivered) and a one-byte name.",
              subscribe_ack(stream_id=9, id=0xFFFFFFFF, next_sequence=0,
                            name=b"x", epoch=1)),
        valid("unsubscribe", "UNSUBSCRIBE subscription 3.",
              unsubscribe(subscription_id=3)),
        valid("udp_subscribe_address",
              "UDP_SUBSCRIBE 6: send stream md.eq.AAPL as UDP datagrams to "
              "10.1.2.3:7500.",
              udp_subscribe(subscription_id=6, port=7500,
                            address=bytes([10, 1, 2, 3]), name=MD)),
        valid("udp_subscribe_peer",
              "UDP_SUBSCRIBE with address 0.0.0.0: the TCP peer's own "
              "address, port 65535.",
              udp_subscribe(subscription_id=0xFFFFFFFF, port=65535,
                            address=bytes(4), name=b"t")),
        valid("gap_range", "GAP: sequences 5..9 of stream 7 are gone.",
              gap(stream_id=7, from_sequence=5, to_sequence=9)),
        valid("gap_single", "GAP of a single sequence (from == to).",
              gap(stream_id=7, from_sequence=1, to_sequence=1)),
    ]


def data_vectors():
    all_bytes = bytes(range(256))
    return [
        valid("publish_no_ack",
              "PUBLISH without ACK_REQUESTED; 5-byte payload (29 -> 32).",
              publish(stream_id=3, correlation_id=42, payload=b"hello")),
        valid("publish_ack_requested",
              "PUBLISH with ACK_REQUESTED and an 8-byte payload (no padding).",
              publish(stream_id=3, correlation_id=43, payload=b"12345678",
                      ack=True)),
        valid("publish_empty_payload",
              "PUBLISH with an empty payload: exactly 24 bytes.",
              publish(stream_id=0xFFFFFFFF, correlation_id=0)),
        valid("publish_ack_ok",
              "PUBLISH_ACK accepting correlation 43 as sequence 17.",
              publish_ack(stream_id=3, correlation_id=43, sequence=17)),
        valid("publish_ack_back_pressured",
              "PUBLISH_ACK refusing with BACK_PRESSURED: sequence 0.",
              publish_ack(stream_id=3, correlation_id=44, sequence=0,
                          status="BACK_PRESSURED")),
        valid("publish_ack_unknown_stream",
              "PUBLISH_ACK refusing with UNKNOWN_STREAM.",
              publish_ack(stream_id=99, correlation_id=45, sequence=0,
                          status="UNKNOWN_STREAM")),
        valid("data_empty_payload", "DATA with an empty payload: 32 bytes.",
              data(stream_id=7, sequence=1, timestamp_ns=1000)),
        valid("data_stream7_seq1_hi",
              "DATA with a 2-byte payload needing 6 bytes of padding.",
              data(stream_id=7, sequence=1, timestamp_ns=1000, payload=b"hi")),
        valid("data_payload_aligned",
              "DATA whose 16-byte payload is already a multiple of 8.",
              data(stream_id=7, sequence=2, payload=b"0123456789abcdef")),
        valid("data_payload_one_byte",
              "DATA with a 1-byte payload: 7 bytes of padding, the most.",
              data(stream_id=7, sequence=3, payload=b"\x00")),
        valid("data_payload_all_byte_values",
              "DATA whose payload is every byte value 00..ff.",
              data(stream_id=7, sequence=4, payload=all_bytes)),
        valid("data_extreme_values",
              "DATA with the largest stream id and sequence and a negative "
              "timestamp.",
              data(stream_id=0xFFFFFFFF, sequence=0xFFFFFFFFFFFFFFFF,
                   timestamp_ns=-9223372036854775808, payload=b"max")),
    ]


def request_vectors():
    return [
        valid("request_basic",
              "REQUEST to service 12 with a 250 ms timeout (39 -> 40).",
              request(correlation_id=7, service_id=12, timeout_ms=250,
                      payload=b"GET /px")),
        valid("request_default_timeout_empty",
              "REQUEST with timeout 0 (gateway default) and no payload.",
              request(correlation_id=0xFFFFFFFFFFFFFFFF, service_id=1)),
        valid("response_ok", "RESPONSE OK carrying the backend's payload.",
              response(correlation_id=7, service_id=12,
                       payload=b"{\"px\":101.25}")),
        valid("response_ok_empty", "RESPONSE OK with an empty payload.",
              response(correlation_id=8, service_id=12)),
        valid("response_no_such_service", "RESPONSE NO_SUCH_SERVICE.",
              response(correlation_id=9, service_id=77,
                       status="NO_SUCH_SERVICE",
                       payload=b"no service 77")),
        valid("response_timeout", "RESPONSE TIMEOUT with a text.",
              response(correlation_id=10, service_id=12, status="TIMEOUT",
                       payload=b"backend timed out")),
        valid("response_unavailable", "RESPONSE UNAVAILABLE.",
              response(correlation_id=11, service_id=12,
                       status="UNAVAILABLE")),
        valid("response_backend_error",
              "RESPONSE BACKEND_ERROR, the highest status of protocol "
              "versions 1 and 2.",
              response(correlation_id=12, service_id=12,
                       status="BACKEND_ERROR", payload=b"500")),
        valid("response_overloaded",
              "RESPONSE OVERLOADED (protocol version 3), the highest status.",
              response(correlation_id=13, service_id=12,
                       status="OVERLOADED",
                       payload=b"overloaded: pricing queue full")),
        valid("service_lookup_basic",
              "SERVICE_LOOKUP of the service 'pricing' (39 -> 40).",
              service_lookup(correlation_id=21, name=b"pricing")),
        valid("service_lookup_longest_name",
              "SERVICE_LOOKUP with a 64-byte name, the longest (96, no "
              "padding).",
              service_lookup(correlation_id=0xFFFFFFFFFFFFFFFF,
                             name=b"svc." + b"n" * 60)),
        valid("service_lookup_ack_found",
              "SERVICE_LOOKUP_ACK naming service id 12.",
              service_lookup_ack(correlation_id=21, service_id=12)),
        valid("service_lookup_ack_not_found",
              "SERVICE_LOOKUP_ACK with service id 0: no service has that "
              "name.",
              service_lookup_ack(correlation_id=22, service_id=0)),
    ]


def multi_vectors():
    return [
        valid("multi_session_start",
              "One buffer: LOGON_ACK, SUBSCRIBE_ACK, two DATA, HEARTBEAT, as "
              "a client's first read might return them.",
              logon_ack(),
              subscribe_ack(stream_id=7, id=1, next_sequence=1, name=MD),
              data(stream_id=7, sequence=1, payload=b"bid 101.25"),
              data(stream_id=7, sequence=2, payload=b"ask 101.27x"),
              heartbeat()),
        valid("multi_data_burst",
              "Five DATA frames of one stream with payloads 0..4 bytes long "
              "(every padding amount from 0 to 4).",
              *[data(stream_id=7, sequence=100 + i, timestamp_ns=5000 + i,
                     payload=b"abcd"[:i]) for i in range(5)]),
        valid("multi_version_2_subscriber",
              "A version-2 subscriber's buffer: LOGON_ACK and SUBSCRIBE_ACK "
              "in their EPOCH forms, then DATA (unchanged by the version).",
              logon_ack(version=2, epoch=EPOCH),
              subscribe_ack(stream_id=7, id=1, next_sequence=1, name=MD,
                            epoch=EPOCH),
              data(stream_id=7, sequence=1, payload=b"bid 101.25")),
        valid("multi_publisher",
              "A producer's buffer: OPEN_STREAM then PUBLISH with and without "
              "ACK_REQUESTED, then LOGOUT.",
              open_stream(request_id=1, name=b"orders"),
              publish(stream_id=3, correlation_id=1, payload=b"buy 100"),
              publish(stream_id=3, correlation_id=2, payload=b"sell 50",
                      ack=True),
              logout()),
        valid("frame_length_equals_limit",
              "DATA of length 64 with max_frame_length 64: at the limit is "
              "allowed.",
              data(stream_id=7, sequence=1, payload=b"p" * 32),
              max_frame_length=64),
        valid("frame_length_equals_unaligned_limit",
              "DATA of length 60 with max_frame_length 60: the limit applies "
              "to the unpadded length, the frame occupies 64 bytes.",
              data(stream_id=7, sequence=1, payload=b"q" * 28),
              max_frame_length=60),
    ]


def malformed_vectors():
    hb = heartbeat()
    d_hi = data(stream_id=7, sequence=1, payload=b"hi")  # 34 -> 40
    d_long = data(stream_id=7, sequence=1, payload=b"hello world")  # 43 -> 48
    big_logon = logon_ack()

    def raw_header(length, type_code=MESSAGE_TYPES["HEARTBEAT"], version=1,
                   flags=0, stream_id=0, reserved=0):
        return [header_seg(length, type_code, flags, stream_id, version,
                           reserved)]

    v = []
    # -- Incomplete: nothing wrong yet, more bytes needed. --
    v += [
        malformed("truncated_header_1_byte",
                  "1 byte of a HEARTBEAT: fewer than 4 bytes.",
                  truncate(hb.segs, 1), "incomplete"),
        malformed("truncated_header_3_bytes",
                  "3 bytes of a HEARTBEAT: fewer than 4 bytes.",
                  truncate(hb.segs, 3), "incomplete"),
        malformed("truncated_header_12_bytes",
                  "12 bytes of a DATA header: the length is fine, the header "
                  "is not all there (step 3).",
                  truncate(d_hi.segs, 12), "incomplete"),
        malformed("truncated_body",
                  "30 of the 48 bytes of a DATA frame.",
                  truncate(d_long.segs, 30), "incomplete"),
        malformed("truncated_padding",
                  "A DATA frame of length 34 without its 6 padding bytes: the "
                  "frame occupies 40 bytes (step 5).",
                  truncate(d_hi.segs, 34), "incomplete"),
        malformed("truncated_padding_nonzero",
                  "38 of 40 bytes with a non-zero padding byte: incomplete "
                  "wins, padding is checked only once all of it is there.",
                  truncate(data(stream_id=7, sequence=1, payload=b"hi",
                                padding=b"\x00\x00\x00\x09\x00\x00").segs, 38),
                  "incomplete"),
    ]
    # -- Step 2: the length alone. --
    v += [
        malformed("length_zero", "A HEARTBEAT whose length field is 0.",
                  heartbeat(length=0), "FRAME_TOO_SHORT"),
        malformed("length_15", "A HEARTBEAT whose length field is 15.",
                  heartbeat(length=15), "FRAME_TOO_SHORT"),
        malformed("length_too_short_after_4_bytes",
                  "Just 4 bytes announcing length 8: refused at once.",
                  truncate(raw_header(8), 4), "FRAME_TOO_SHORT"),
        malformed("length_too_short_before_version",
                  "Length 4 with version 9 and an unknown type: the length "
                  "check (step 2) answers first.",
                  raw_header(4, type_code=0xEE, version=9), "FRAME_TOO_SHORT"),
        malformed("length_over_default_limit_after_4_bytes",
                  "4 bytes announcing 65537 bytes with the default limit "
                  "65536: refused before the rest arrives.",
                  truncate(raw_header(65537, MESSAGE_TYPES["DATA"]), 4),
                  "FRAME_TOO_LONG"),
        malformed("length_max_u32",
                  "A header announcing a 4 GiB frame.",
                  raw_header(0xFFFFFFFF, MESSAGE_TYPES["DATA"]),
                  "FRAME_TOO_LONG"),
        malformed("length_over_configured_limit",
                  "A whole, otherwise valid DATA frame of length 72 with "
                  "max_frame_length 64.",
                  data(stream_id=7, sequence=1, payload=b"p" * 40),
                  "FRAME_TOO_LONG", max_frame_length=64),
        malformed("length_too_long_before_type",
                  "Length 70000 with an unknown type: FRAME_TOO_LONG first.",
                  raw_header(70000, type_code=0xFF), "FRAME_TOO_LONG"),
    ]
    # -- Step 4: version, type, header reserved. --
    v += [
        malformed("version_0", "A HEARTBEAT with version 0.",
                  heartbeat(version=0), "UNSUPPORTED_VERSION"),
        malformed("version_2", "A HEARTBEAT with version 2.",
                  heartbeat(version=2), "UNSUPPORTED_VERSION"),
        malformed("version_2_header_only",
                  "Only the 16-byte header of a 40-byte frame, version 2: "
                  "answered before the body arrives.",
                  raw_header(40, MESSAGE_TYPES["LOGON_ACK"], version=2),
                  "UNSUPPORTED_VERSION"),
        malformed("version_before_type",
                  "Version 2 and type 0x99: the version is checked first.",
                  heartbeat(version=2, type_code=0x99), "UNSUPPORTED_VERSION"),
        malformed("unknown_type_0x00", "Type 0x00.",
                  heartbeat(type_code=0x00), "UNKNOWN_TYPE"),
        malformed("unknown_type_0x07",
                  "Type 0x07, just past ERROR.",
                  heartbeat(type_code=0x07), "UNKNOWN_TYPE"),
        malformed("unknown_type_0x23",
                  "Type 0x23, just past DATA.",
                  data(stream_id=7, sequence=1, type_code=0x23),
                  "UNKNOWN_TYPE"),
        malformed("unknown_type_0xff", "Type 0xff.",
                  heartbeat(type_code=0xFF), "UNKNOWN_TYPE"),
        malformed("unknown_type_header_only",
                  "Only the header of a 48-byte frame of type 0x34, just "
                  "past SERVICE_LOOKUP_ACK.",
                  raw_header(48, type_code=0x34), "UNKNOWN_TYPE"),
        malformed("unknown_type_before_reserved",
                  "Unknown type and a non-zero header reserved: UNKNOWN_TYPE "
                  "first.",
                  heartbeat(type_code=0x40, reserved=1), "UNKNOWN_TYPE"),
        malformed("header_reserved_nonzero",
                  "A HEARTBEAT with header reserved = 1.",
                  heartbeat(reserved=1), "BAD_FIELD"),
        malformed("header_reserved_nonzero_header_only",
                  "Only the header of a DATA frame, reserved 0x80000000: "
                  "answered before the body arrives.",
                  raw_header(40, MESSAGE_TYPES["DATA"], stream_id=7,
                             reserved=0x80000000), "BAD_FIELD"),
        malformed("header_reserved_before_padding",
                  "Non-zero header reserved and non-zero padding: the header "
                  "(step 4) answers before the padding (step 6).",
                  data(stream_id=7, sequence=1, payload=b"hi", reserved=2,
                       padding=b"\x01" * 6), "BAD_FIELD"),
    ]
    # -- Step 6: padding. --
    v += [
        malformed("bad_padding_last_byte",
                  "DATA 'hi' with the last padding byte 0x01.",
                  data(stream_id=7, sequence=1, payload=b"hi",
                       padding=b"\x00\x00\x00\x00\x00\x01"), "BAD_PADDING"),
        malformed("bad_padding_first_byte",
                  "DATA 'hi' with the first padding byte 0x80.",
                  data(stream_id=7, sequence=1, payload=b"hi",
                       padding=b"\x80\x00\x00\x00\x00\x00"), "BAD_PADDING"),
        malformed("bad_padding_logon",
                  "LOGON of length 47 whose single padding byte is 0xff.",
                  logon(token=b"secret", client_name=b"md-feed-1",
                        padding=b"\xff"), "BAD_PADDING"),
        malformed("bad_padding_before_body",
                  "DATA with sequence 0 (a body error) and bad padding: "
                  "padding (step 6) answers first.",
                  data(stream_id=7, sequence=0, payload=b"hi",
                       padding=b"\x00\x00\x07\x00\x00\x00"), "BAD_PADDING"),
    ]
    # -- What follows a valid frame. --
    v += [
        malformed("trailing_invalid_header",
                  "A valid HEARTBEAT, then 16 bytes whose length field is 8.",
                  raw_header(8), "FRAME_TOO_SHORT", before=[hb]),
        malformed("trailing_zero_bytes",
                  "A valid HEARTBEAT, then 8 zero bytes (extra padding is "
                  "not allowed: it reads as a length-0 frame).",
                  [Seg(bytes(8), "8 zero bytes")], "FRAME_TOO_SHORT",
                  before=[hb]),
        malformed("trailing_bad_version",
                  "A valid DATA frame, then a header with version 7.",
                  raw_header(24, version=7), "UNSUPPORTED_VERSION",
                  before=[d_hi]),
        malformed("trailing_unknown_type",
                  "Two valid frames, then a header of unknown type 0x17.",
                  raw_header(24, type_code=0x17), "UNKNOWN_TYPE",
                  before=[hb, d_hi]),
        malformed("trailing_partial_length",
                  "A valid DATA frame, then 3 stray bytes.",
                  [Seg(b"\x01\x02\x03", "3 stray bytes")], "incomplete",
                  before=[d_hi]),
        malformed("trailing_partial_header",
                  "A valid HEARTBEAT, then the first 13 bytes of another.",
                  truncate(hb.segs, 13), "incomplete", before=[hb]),
    ]
    # -- Step 7: BAD_BODY_LENGTH (length disagrees with the layout). --
    v += [
        malformed("heartbeat_length_32", "HEARTBEAT must be exactly 24 bytes.",
                  heartbeat(extra=bytes(8)), "BAD_BODY_LENGTH"),
        malformed("heartbeat_length_16", "HEARTBEAT with no body at all.",
                  raw_header(16), "BAD_BODY_LENGTH"),
        malformed("logout_length_32", "LOGOUT must be exactly 24 bytes.",
                  logout(extra=bytes(8)), "BAD_BODY_LENGTH"),
        malformed("logon_ack_length_48",
                  "LOGON_ACK must be exactly 40 bytes.",
                  logon_ack(extra=bytes(8)), "BAD_BODY_LENGTH"),
        malformed("logon_ack_epoch_flag_length_40",
                  "LOGON_ACK with EPOCH set but only 40 bytes (no "
                  "instance_epoch): the flag makes the length 48.",
                  logon_ack(version=2, flags=FLAG_EPOCH), "BAD_BODY_LENGTH"),
        malformed("logon_ack_epoch_without_flag",
                  "LOGON_ACK of 48 bytes with an instance epoch but EPOCH "
                  "clear: the length must then be 40.",
                  logon_ack(version=2, epoch=EPOCH, flags=0),
                  "BAD_BODY_LENGTH"),
        malformed("logon_ack_length_32",
                  "LOGON_ACK cut to 32 bytes (length says 32).",
                  frame("LOGON_ACK", big_logon.segs[1:5], []),
                  "BAD_BODY_LENGTH"),
        malformed("unsubscribe_length_32",
                  "UNSUBSCRIBE must be exactly 24 bytes.",
                  unsubscribe(subscription_id=3, extra=bytes(8)),
                  "BAD_BODY_LENGTH"),
        malformed("gap_length_40", "GAP must be exactly 32 bytes.",
                  gap(stream_id=7, from_sequence=5, to_sequence=9,
                      extra=bytes(8)), "BAD_BODY_LENGTH"),
        malformed("publish_ack_length_32",
                  "PUBLISH_ACK without its status word: 32 bytes.",
                  frame("PUBLISH_ACK", [u64(43, "correlation_id"),
                                        u64(17, "sequence")], [],
                        stream_id=3), "BAD_BODY_LENGTH"),
        malformed("logon_length_24",
                  "LOGON shorter than its 32-byte fixed part.",
                  frame("LOGON", [u16(1, "min_version"),
                                  u16(1, "max_version"),
                                  u32(0, "heartbeat_interval_ms")], []),
                  "BAD_BODY_LENGTH"),
        malformed("logon_lengths_exceed_frame",
                  "LOGON declaring token 6 + name 9 bytes in a frame that has "
                  "only 14 after the fixed part.",
                  logon(token=b"secret", client_name=b"md-feed-",
                        client_name_length=9), "BAD_BODY_LENGTH"),
        malformed("logon_lengths_short_of_frame",
                  "LOGON declaring token 6 + name 9 bytes in a frame with 16 "
                  "bytes after the fixed part.",
                  logon(token=b"secret", client_name=b"md-feed-1x",
                        client_name_length=9), "BAD_BODY_LENGTH"),
        malformed("logon_length_before_fields",
                  "LOGON with mismatched lengths and flags 1: the length "
                  "check answers before the field checks.",
                  logon(token=b"secret", client_name=b"md-feed-",
                        client_name_length=9, flags=1), "BAD_BODY_LENGTH"),
        malformed("error_text_length_mismatch",
                  "ERROR declaring 10 bytes of text with 9 present.",
                  error(code="INTERNAL", text=b"bad thing", text_length=10),
                  "BAD_BODY_LENGTH"),
        malformed("error_length_24",
                  "ERROR shorter than its 32-byte fixed part.",
                  frame("ERROR", [u16(255, "code"), u16(0, "text_length"),
                                  u32(0, "reserved")], []),
                  "BAD_BODY_LENGTH"),
        malformed("logon_reject_text_length_mismatch",
                  "LOGON_REJECT declaring 3 bytes of text with 9 present.",
                  logon_reject(code="NOT_AUTHORIZED", text=b"bad token",
                               text_length=3), "BAD_BODY_LENGTH"),
        malformed("open_stream_name_length_mismatch",
                  "OPEN_STREAM declaring an 11-byte name with 10 present.",
                  open_stream(request_id=1, name=MD, name_length=11),
                  "BAD_BODY_LENGTH"),
        malformed("open_stream_header_only", "OPEN_STREAM with no body.",
                  raw_header(16, MESSAGE_TYPES["OPEN_STREAM"]),
                  "BAD_BODY_LENGTH"),
        malformed("open_stream_ack_name_length_mismatch",
                  "OPEN_STREAM_ACK declaring a 9-byte name with 10 present.",
                  open_stream_ack(stream_id=7, id=1, next_sequence=1, name=MD,
                                  name_length=9), "BAD_BODY_LENGTH"),
        malformed("subscribe_name_length_mismatch",
                  "SUBSCRIBE declaring a 255-byte name with 7 present.",
                  subscribe(subscription_id=1, name=b"md.eq.*",
                            name_length=255), "BAD_BODY_LENGTH"),
        malformed("subscribe_length_24",
                  "SUBSCRIBE shorter than its 32-byte fixed part.",
                  frame("SUBSCRIBE", [u32(1, "subscription_id"),
                                      u8(0, "start_mode"), u8(0, "reserved"),
                                      u16(0, "name_length")], []),
                  "BAD_BODY_LENGTH"),
        malformed("subscribe_ack_name_length_mismatch",
                  "SUBSCRIBE_ACK declaring a 6-byte name with 7 present.",
                  subscribe_ack(stream_id=0, id=4, next_sequence=0,
                                name=b"md.eq.*", name_length=6),
                  "BAD_BODY_LENGTH"),
        malformed("data_length_24",
                  "DATA shorter than its 32-byte fixed part.",
                  frame("DATA", [u64(1, "sequence")], [], stream_id=7),
                  "BAD_BODY_LENGTH"),
        malformed("publish_header_only",
                  "PUBLISH with no correlation id: 16 bytes.",
                  raw_header(16, MESSAGE_TYPES["PUBLISH"], stream_id=3),
                  "BAD_BODY_LENGTH"),
        malformed("request_length_24",
                  "REQUEST shorter than its 32-byte fixed part.",
                  frame("REQUEST", [u64(7, "correlation_id")], []),
                  "BAD_BODY_LENGTH"),
        malformed("response_length_28",
                  "RESPONSE without its status and reserved words.",
                  frame("RESPONSE", [u64(7, "correlation_id"),
                                     u32(12, "service_id")], []),
                  "BAD_BODY_LENGTH"),
        malformed("service_lookup_length_24",
                  "SERVICE_LOOKUP shorter than its 32-byte fixed part.",
                  frame("SERVICE_LOOKUP", [u64(7, "correlation_id")], []),
                  "BAD_BODY_LENGTH"),
        malformed("service_lookup_name_length_mismatch",
                  "SERVICE_LOOKUP declaring an 8-byte name with 7 present.",
                  service_lookup(correlation_id=7, name=b"pricing",
                                 name_length=8), "BAD_BODY_LENGTH"),
        malformed("service_lookup_name_65_mismatch",
                  "SERVICE_LOOKUP declaring a 65-byte name with 7 present: "
                  "the length disagreement answers first.",
                  service_lookup(correlation_id=7, name=b"pricing",
                                 name_length=65), "BAD_BODY_LENGTH"),
        malformed("service_lookup_ack_length_40",
                  "SERVICE_LOOKUP_ACK with 8 extra bytes: it is exactly 32.",
                  frame("SERVICE_LOOKUP_ACK",
                        [u64(7, "correlation_id"), u32(12, "service_id"),
                         u32(0, "reserved"), u64(0, "extra")], []),
                  "BAD_BODY_LENGTH"),
        malformed("service_lookup_ack_length_24",
                  "SERVICE_LOOKUP_ACK without its service id.",
                  frame("SERVICE_LOOKUP_ACK", [u64(7, "correlation_id")], []),
                  "BAD_BODY_LENGTH"),
    ]
    # -- Step 7: BAD_FIELD (reserved bits, out-of-range fields). --
    name256 = b"s" * 256
    v += [
        malformed("logon_flags_set", "LOGON with flags 0x0001.",
                  logon(token=b"t", flags=1), "BAD_FIELD"),
        malformed("logon_stream_id_set", "LOGON with stream id 3.",
                  logon(token=b"t", stream_id=3), "BAD_FIELD"),
        malformed("logon_reserved_set", "LOGON with reserved (28) = 1.",
                  logon(token=b"t", reserved=1), "BAD_FIELD"),
        malformed("logon_min_version_0", "LOGON with min_version 0.",
                  logon(min_version=0, max_version=1), "BAD_FIELD"),
        malformed("logon_max_below_min", "LOGON with min 2, max 1.",
                  logon(min_version=2, max_version=1), "BAD_FIELD"),
        malformed("logon_token_256",
                  "LOGON with a 256-byte token: lengths agree, too long.",
                  logon(token=b"k" * 256), "BAD_FIELD"),
        malformed("logon_client_name_256",
                  "LOGON with a 256-byte client name.",
                  logon(client_name=b"n" * 256), "BAD_FIELD"),
        malformed("logon_ack_flags_set", "LOGON_ACK with flags 0x8000.",
                  logon_ack(flags=0x8000), "BAD_FIELD"),
        malformed("logon_ack_epoch_zero",
                  "LOGON_ACK in the EPOCH form with instance_epoch 0.",
                  logon_ack(version=2, epoch=0), "BAD_FIELD"),
        malformed("logon_ack_epoch_other_flag",
                  "LOGON_ACK in the EPOCH form with flag bit 0 set too.",
                  logon_ack(version=2, epoch=EPOCH, flags=FLAG_EPOCH | 1),
                  "BAD_FIELD"),
        malformed("logon_ack_stream_id_set", "LOGON_ACK with stream id 1.",
                  logon_ack(stream_id=1), "BAD_FIELD"),
        malformed("logon_ack_reserved18_set",
                  "LOGON_ACK with reserved (18) = 1.",
                  logon_ack(reserved18=1), "BAD_FIELD"),
        malformed("logon_ack_reserved36_set",
                  "LOGON_ACK with reserved (36) = 1.",
                  logon_ack(reserved36=1), "BAD_FIELD"),
        malformed("logon_ack_version_0", "LOGON_ACK with version 0.",
                  logon_ack(version=0), "BAD_FIELD"),
        malformed("logon_ack_heartbeat_0",
                  "LOGON_ACK with heartbeat interval 0 (must be > 0).",
                  logon_ack(heartbeat_interval_ms=0), "BAD_FIELD"),
        malformed("logon_ack_session_0", "LOGON_ACK with session id 0.",
                  logon_ack(session_id=0), "BAD_FIELD"),
        malformed("logon_ack_max_frame_15",
                  "LOGON_ACK announcing a frame limit below the header size.",
                  logon_ack(max_frame_length=15), "BAD_FIELD"),
        malformed("error_code_0", "ERROR with code 0 (NONE).",
                  error(code="NONE", text=b"?"), "BAD_FIELD"),
        malformed("error_unknown_flag",
                  "ERROR with flag bit 1 (only bit 0 FATAL is defined).",
                  error(code="INTERNAL", flags=0x0003), "BAD_FIELD"),
        malformed("error_reserved_set", "ERROR with reserved (20) = 1.",
                  error(code="INTERNAL", reserved=1), "BAD_FIELD"),
        malformed("error_text_1025",
                  "ERROR with 1025 bytes of text: lengths agree, too long.",
                  error(code="INTERNAL", text=b"y" * 1025), "BAD_FIELD"),
        malformed("logon_reject_fatal_flag",
                  "LOGON_REJECT with flags 0x0001: its flags must be 0.",
                  logon_reject(code="NOT_AUTHORIZED", flags=FLAG_FATAL),
                  "BAD_FIELD"),
        malformed("logon_reject_stream_id_set",
                  "LOGON_REJECT with stream id 7.",
                  logon_reject(code="NOT_AUTHORIZED", stream_id=7),
                  "BAD_FIELD"),
        malformed("heartbeat_flags_set", "HEARTBEAT with flags 0x0001.",
                  heartbeat(flags=1), "BAD_FIELD"),
        malformed("heartbeat_stream_id_set", "HEARTBEAT with stream id 7.",
                  heartbeat(stream_id=7), "BAD_FIELD"),
        malformed("logout_reserved18_set", "LOGOUT with reserved (18) = 1.",
                  logout(reserved18=1), "BAD_FIELD"),
        malformed("logout_reserved20_set", "LOGOUT with reserved (20) = 1.",
                  logout(reserved20=1), "BAD_FIELD"),
        malformed("logout_stream_id_set", "LOGOUT with stream id 1.",
                  logout(stream_id=1), "BAD_FIELD"),
        malformed("open_stream_empty_name", "OPEN_STREAM with an empty name.",
                  open_stream(request_id=1, name=b""), "BAD_FIELD"),
        malformed("open_stream_name_256",
                  "OPEN_STREAM with a 256-byte name.",
                  open_stream(request_id=1, name=name256), "BAD_FIELD"),
        malformed("open_stream_stream_id_set",
                  "OPEN_STREAM with stream id 7.",
                  open_stream(request_id=1, name=MD, stream_id=7),
                  "BAD_FIELD"),
        malformed("open_stream_reserved_set",
                  "OPEN_STREAM with reserved (20) = 1.",
                  open_stream(request_id=1, name=MD, reserved=1),
                  "BAD_FIELD"),
        malformed("open_stream_ack_stream_id_0",
                  "OPEN_STREAM_ACK with stream id 0.",
                  open_stream_ack(stream_id=0, id=1, next_sequence=1, name=MD),
                  "BAD_FIELD"),
        malformed("open_stream_ack_empty_name",
                  "OPEN_STREAM_ACK with an empty name.",
                  open_stream_ack(stream_id=7, id=1, next_sequence=1,
                                  name=b""), "BAD_FIELD"),
        malformed("subscribe_ack_flags_set", "SUBSCRIBE_ACK with flags 1.",
                  subscribe_ack(stream_id=7, id=1, next_sequence=1, name=MD,
                                flags=1), "BAD_FIELD"),
        malformed("subscribe_ack_epoch_flag_version_1_layout",
                  "SUBSCRIBE_ACK with EPOCH set but the version-1 layout "
                  "(name at 32): the fixed part is then 40.",
                  subscribe_ack(stream_id=7, id=1, next_sequence=1, name=MD,
                                flags=FLAG_EPOCH), "BAD_BODY_LENGTH"),
        malformed("subscribe_ack_epoch_zero",
                  "SUBSCRIBE_ACK in the EPOCH form with instance_epoch 0.",
                  subscribe_ack(stream_id=7, id=1, next_sequence=1, name=MD,
                                epoch=0), "BAD_FIELD"),
        malformed("subscribe_ack_epoch_other_flag",
                  "SUBSCRIBE_ACK in the EPOCH form with flag bit 0 set too.",
                  subscribe_ack(stream_id=7, id=1, next_sequence=1, name=MD,
                                epoch=EPOCH, flags=FLAG_EPOCH | 1),
                  "BAD_FIELD"),
        malformed("subscribe_ack_epoch_pattern_without_star",
                  "EPOCH-form pattern ack whose name (at 40) does not end in "
                  "'*'.",
                  subscribe_ack(stream_id=0, id=4, next_sequence=0,
                                name=b"md.eq.", epoch=EPOCH), "BAD_FIELD"),
        malformed("subscribe_ack_epoch_pattern_with_sequence",
                  "EPOCH-form pattern ack with next_sequence 5.",
                  subscribe_ack(stream_id=0, id=4, next_sequence=5,
                                name=b"md.eq.*", epoch=EPOCH), "BAD_FIELD"),
        malformed("open_stream_ack_epoch_flag",
                  "OPEN_STREAM_ACK with flag bit 1 (EPOCH is a SUBSCRIBE_ACK "
                  "form only).",
                  open_stream_ack(stream_id=7, id=1, next_sequence=1, name=MD,
                                  flags=FLAG_EPOCH), "BAD_FIELD"),
        malformed("subscribe_ack_reserved_set",
                  "SUBSCRIBE_ACK with reserved (20) = 1.",
                  subscribe_ack(stream_id=7, id=1, next_sequence=1, name=MD,
                                reserved=1), "BAD_FIELD"),
        malformed("subscribe_start_mode_3", "SUBSCRIBE with start_mode 3.",
                  subscribe(subscription_id=1, start_mode=3, name=MD),
                  "BAD_FIELD"),
        malformed("subscribe_sequence_mode_sequence_0",
                  "SUBSCRIBE start_mode SEQUENCE with start_sequence 0.",
                  subscribe(subscription_id=1, start_mode="SEQUENCE",
                            start_sequence=0, name=MD), "BAD_FIELD"),
        malformed("subscribe_latest_with_sequence",
                  "SUBSCRIBE start_mode LATEST with start_sequence 5 (must be "
                  "zero).",
                  subscribe(subscription_id=1, start_sequence=5, name=MD),
                  "BAD_FIELD"),
        malformed("subscribe_earliest_with_sequence",
                  "SUBSCRIBE start_mode EARLIEST with start_sequence 1.",
                  subscribe(subscription_id=1, start_mode="EARLIEST",
                            start_sequence=1, name=MD), "BAD_FIELD"),
        malformed("subscribe_id_0", "SUBSCRIBE with subscription id 0.",
                  subscribe(subscription_id=0, name=MD), "BAD_FIELD"),
        malformed("subscribe_reserved_set",
                  "SUBSCRIBE with reserved (21) = 1.",
                  subscribe(subscription_id=1, name=MD, reserved=1),
                  "BAD_FIELD"),
        malformed("subscribe_stream_id_set", "SUBSCRIBE with stream id 7.",
                  subscribe(subscription_id=1, name=MD, stream_id=7),
                  "BAD_FIELD"),
        malformed("subscribe_empty_name", "SUBSCRIBE with an empty name.",
                  subscribe(subscription_id=1, name=b""), "BAD_FIELD"),
        malformed("subscribe_name_256", "SUBSCRIBE with a 256-byte name.",
                  subscribe(subscription_id=1, name=name256), "BAD_FIELD"),
        malformed("unsubscribe_id_0", "UNSUBSCRIBE of subscription id 0.",
                  unsubscribe(subscription_id=0), "BAD_FIELD"),
        malformed("unsubscribe_reserved_set",
                  "UNSUBSCRIBE with reserved (20) = 1.",
                  unsubscribe(subscription_id=3, reserved=1), "BAD_FIELD"),
        malformed("udp_subscribe_length_24",
                  "UDP_SUBSCRIBE shorter than its 32-byte fixed part.",
                  frame("UDP_SUBSCRIBE", [u32(1, "subscription_id"),
                                          u16(7500, "port"),
                                          u16(0, "name_length")], []),
                  "BAD_BODY_LENGTH"),
        malformed("udp_subscribe_name_length_mismatch",
                  "UDP_SUBSCRIBE declaring an 11-byte name with 10 present.",
                  udp_subscribe(subscription_id=1, port=7500, address=LOOP,
                                name=MD, name_length=11),
                  "BAD_BODY_LENGTH"),
        malformed("udp_subscribe_id_0",
                  "UDP_SUBSCRIBE with subscription id 0.",
                  udp_subscribe(subscription_id=0, port=7500, address=LOOP,
                                name=MD), "BAD_FIELD"),
        malformed("udp_subscribe_port_0", "UDP_SUBSCRIBE to port 0.",
                  udp_subscribe(subscription_id=1, port=0, address=LOOP,
                                name=MD), "BAD_FIELD"),
        malformed("udp_subscribe_reserved_set",
                  "UDP_SUBSCRIBE with reserved (28) = 1.",
                  udp_subscribe(subscription_id=1, port=7500, address=LOOP,
                                name=MD, reserved=1), "BAD_FIELD"),
        malformed("udp_subscribe_stream_id_set",
                  "UDP_SUBSCRIBE with stream id 7.",
                  udp_subscribe(subscription_id=1, port=7500, address=LOOP,
                                name=MD, stream_id=7), "BAD_FIELD"),
        malformed("udp_subscribe_flags_set", "UDP_SUBSCRIBE with flags 1.",
                  udp_subscribe(subscription_id=1, port=7500, address=LOOP,
                                name=MD, flags=1), "BAD_FIELD"),
        malformed("udp_subscribe_empty_name",
                  "UDP_SUBSCRIBE with an empty name.",
                  udp_subscribe(subscription_id=1, port=7500, address=LOOP,
                                name=b""), "BAD_FIELD"),
        malformed("gap_stream_id_0", "GAP with stream id 0.",
                  gap(stream_id=0, from_sequence=5, to_sequence=9),
                  "BAD_FIELD"),
        malformed("gap_from_0", "GAP from sequence 0.",
                  gap(stream_id=7, from_sequence=0, to_sequence=9),
                  "BAD_FIELD"),
        malformed("gap_to_before_from", "GAP from 9 to 5.",
                  gap(stream_id=7, from_sequence=9, to_sequence=5),
                  "BAD_FIELD"),
        malformed("gap_flags_set", "GAP with flags 1.",
                  gap(stream_id=7, from_sequence=5, to_sequence=9, flags=1),
                  "BAD_FIELD"),
        malformed("publish_stream_id_0", "PUBLISH to stream id 0.",
                  publish(stream_id=0, correlation_id=1, payload=b"x"),
                  "BAD_FIELD"),
        malformed("publish_unknown_flag",
                  "PUBLISH with flag bit 1 (only bit 0 ACK_REQUESTED is "
                  "defined).",
                  publish(stream_id=3, correlation_id=1, flags=0x0002),
                  "BAD_FIELD"),
        malformed("publish_high_flag_with_ack",
                  "PUBLISH with ACK_REQUESTED and flag bit 15.",
                  publish(stream_id=3, correlation_id=1, flags=0x8001),
                  "BAD_FIELD"),
        malformed("publish_ack_ok_without_sequence",
                  "PUBLISH_ACK status 0 with sequence 0.",
                  publish_ack(stream_id=3, correlation_id=1, sequence=0),
                  "BAD_FIELD"),
        malformed("publish_ack_refused_with_sequence",
                  "PUBLISH_ACK BACK_PRESSURED with sequence 5.",
                  publish_ack(stream_id=3, correlation_id=1, sequence=5,
                              status="BACK_PRESSURED"), "BAD_FIELD"),
        malformed("publish_ack_stream_id_0", "PUBLISH_ACK with stream id 0.",
                  publish_ack(stream_id=0, correlation_id=1, sequence=5),
                  "BAD_FIELD"),
        malformed("publish_ack_reserved34_set",
                  "PUBLISH_ACK with reserved (34) = 1.",
                  publish_ack(stream_id=3, correlation_id=1, sequence=5,
                              reserved34=1), "BAD_FIELD"),
        malformed("publish_ack_reserved36_set",
                  "PUBLISH_ACK with reserved (36) = 1.",
                  publish_ack(stream_id=3, correlation_id=1, sequence=5,
                              reserved36=1), "BAD_FIELD"),
        malformed("data_sequence_0", "DATA with sequence 0.",
                  data(stream_id=7, sequence=0, payload=b"hi"), "BAD_FIELD"),
        malformed("data_stream_id_0", "DATA on stream id 0.",
                  data(stream_id=0, sequence=1, payload=b"hi"), "BAD_FIELD"),
        malformed("data_flags_set", "DATA with flags 0x0001.",
                  data(stream_id=7, sequence=1, payload=b"hi", flags=1),
                  "BAD_FIELD"),
        malformed("request_service_0", "REQUEST to service id 0.",
                  request(correlation_id=7, service_id=0, payload=b"x"),
                  "BAD_FIELD"),
        malformed("request_stream_id_set", "REQUEST with stream id 1.",
                  request(correlation_id=7, service_id=12, stream_id=1),
                  "BAD_FIELD"),
        malformed("request_flags_set", "REQUEST with flags 1.",
                  request(correlation_id=7, service_id=12, flags=1),
                  "BAD_FIELD"),
        malformed("response_status_6",
                  "RESPONSE status 6, one past OVERLOADED.",
                  response(correlation_id=7, service_id=12, status=6),
                  "BAD_FIELD"),
        malformed("response_status_9", "RESPONSE status 9.",
                  response(correlation_id=7, service_id=12, status=9,
                           payload=b"?"), "BAD_FIELD"),
        malformed("response_reserved_set",
                  "RESPONSE with reserved (30) = 1.",
                  response(correlation_id=7, service_id=12, reserved=1),
                  "BAD_FIELD"),
        malformed("response_service_0", "RESPONSE from service id 0.",
                  response(correlation_id=7, service_id=0), "BAD_FIELD"),
        malformed("response_stream_id_set", "RESPONSE with stream id 2.",
                  response(correlation_id=7, service_id=12, stream_id=2),
                  "BAD_FIELD"),
        malformed("service_lookup_empty_name",
                  "SERVICE_LOOKUP with an empty name (32 bytes, lengths "
                  "agree).",
                  service_lookup(correlation_id=7, name=b""), "BAD_FIELD"),
        malformed("service_lookup_name_65",
                  "SERVICE_LOOKUP with a 65-byte name: the lengths agree, "
                  "the name is one byte too long.",
                  service_lookup(correlation_id=7, name=b"n" * 65),
                  "BAD_FIELD"),
        malformed("service_lookup_reserved26_set",
                  "SERVICE_LOOKUP with reserved (26) = 1.",
                  service_lookup(correlation_id=7, name=b"pricing",
                                 reserved26=1), "BAD_FIELD"),
        malformed("service_lookup_reserved28_set",
                  "SERVICE_LOOKUP with reserved (28) = 0x100.",
                  service_lookup(correlation_id=7, name=b"pricing",
                                 reserved28=0x100), "BAD_FIELD"),
        malformed("service_lookup_stream_id_set",
                  "SERVICE_LOOKUP with stream id 1.",
                  service_lookup(correlation_id=7, name=b"pricing",
                                 stream_id=1), "BAD_FIELD"),
        malformed("service_lookup_flags_set",
                  "SERVICE_LOOKUP with flags 0x0002.",
                  service_lookup(correlation_id=7, name=b"pricing", flags=2),
                  "BAD_FIELD"),
        malformed("service_lookup_ack_reserved_set",
                  "SERVICE_LOOKUP_ACK with reserved (28) = 1.",
                  service_lookup_ack(correlation_id=7, service_id=12,
                                     reserved=1), "BAD_FIELD"),
        malformed("service_lookup_ack_stream_id_set",
                  "SERVICE_LOOKUP_ACK with stream id 3.",
                  service_lookup_ack(correlation_id=7, service_id=12,
                                     stream_id=3), "BAD_FIELD"),
        malformed("service_lookup_ack_flags_set",
                  "SERVICE_LOOKUP_ACK with flags 0x0001.",
                  service_lookup_ack(correlation_id=7, service_id=12,
                                     flags=1), "BAD_FIELD"),
    ]
    return v


def datagram_vectors():
    def d(seq, payload, stream_id=7):
        return data(stream_id=stream_id, sequence=seq,
                    timestamp_ns=1700000000000000000 + seq, payload=payload)

    def p(corr, payload, ack=False, stream_id=3):
        return publish(stream_id=stream_id, correlation_id=corr,
                       payload=payload, ack=ack)

    common = dict(stream_id=7, first_sequence=100, source_id=SOURCE)
    return [
        datagram("datagram_data_two_frames",
                 "A DATA datagram with sequences 100 and 101.", "DATA",
                 frames=[d(100, b"a"), d(101, b"bc")], **common),
        datagram("datagram_data_three_frames",
                 "A DATA datagram of three frames, the middle one empty.",
                 "DATA", frames=[d(100, b"first"), d(101, b""),
                                 d(102, b"12345678")], **common),
        datagram("datagram_data_one_frame",
                 "A DATA datagram of a single frame.", "DATA",
                 frames=[d(100, b"solo")], **common),
        datagram("datagram_publish_one",
                 "A producer's PUBLISH datagram with one frame.", "PUBLISH",
                 stream_id=3, first_sequence=1, source_id=0x1122334455667788,
                 frames=[p(1, b"buy 100")]),
        datagram("datagram_publish_two",
                 "A PUBLISH datagram of two frames, the second asking for an "
                 "ack; first_sequence is the producer's own counter.",
                 "PUBLISH", stream_id=3, first_sequence=41, source_id=1,
                 frames=[p(9, b"x"), p(10, b"yz", ack=True)]),
        datagram("datagram_heartbeat",
                 "A HEARTBEAT datagram: no frames, next sequence 102.",
                 "HEARTBEAT", stream_id=7, first_sequence=102,
                 source_id=SOURCE),
        # -- Malformed: header. --
        datagram("datagram_empty", "A zero-length datagram.", "DATA",
                 stream_id=7, first_sequence=100, source_id=SOURCE, cut=0,
                 result="FRAME_TOO_SHORT"),
        datagram("datagram_truncated_header",
                 "23 bytes: one short of the datagram header.", "HEARTBEAT",
                 stream_id=7, first_sequence=102, source_id=SOURCE, cut=23,
                 result="FRAME_TOO_SHORT"),
        datagram("datagram_version_3", "A datagram with version 3.", "DATA",
                 frames=[d(100, b"a")], version=3,
                 result="UNSUPPORTED_VERSION", **common),
        datagram("datagram_kind_0", "Datagram kind 0.", "DATA",
                 frames=[d(100, b"a")], kind_code=0, result="UNKNOWN_TYPE",
                 **common),
        datagram("datagram_kind_4", "Datagram kind 4.", "DATA",
                 frames=[d(100, b"a")], kind_code=4, result="UNKNOWN_TYPE",
                 **common),
        datagram("datagram_stream_id_0", "A DATA datagram for stream 0.",
                 "DATA", stream_id=0, first_sequence=100, source_id=SOURCE,
                 frames=[d(100, b"a", stream_id=0)], result="BAD_FIELD"),
        datagram("datagram_first_sequence_0",
                 "A HEARTBEAT datagram with first_sequence 0.", "HEARTBEAT",
                 stream_id=7, first_sequence=0, source_id=SOURCE,
                 result="BAD_FIELD"),
        datagram("datagram_source_id_0", "A DATA datagram with source id 0.",
                 "DATA", stream_id=7, first_sequence=100, source_id=0,
                 frames=[d(100, b"a")], result="BAD_FIELD"),
        datagram("datagram_data_count_0",
                 "A DATA datagram claiming no frames.", "DATA", count=0,
                 result="BAD_FIELD", **common),
        datagram("datagram_heartbeat_with_count",
                 "A HEARTBEAT datagram with count 1 and a HEARTBEAT frame.",
                 "HEARTBEAT", frames=[heartbeat()], result="BAD_FIELD",
                 **common),
        # -- Malformed: frames. --
        datagram("datagram_count_exceeds_frames",
                 "Count 3 with only 2 frames.", "DATA", count=3,
                 frames=[d(100, b"a"), d(101, b"bc")],
                 result="BAD_BODY_LENGTH", **common),
        datagram("datagram_count_below_frames",
                 "Count 1 with 2 frames: the second is trailing bytes.",
                 "DATA", count=1, frames=[d(100, b"a"), d(101, b"bc")],
                 result="BAD_BODY_LENGTH", **common),
        datagram("datagram_trailing_bytes",
                 "A valid DATA datagram followed by 8 zero bytes.", "DATA",
                 frames=[d(100, b"a")], trailing=bytes(8),
                 result="BAD_BODY_LENGTH", **common),
        datagram("datagram_heartbeat_trailing_bytes",
                 "A HEARTBEAT datagram followed by 3 bytes.", "HEARTBEAT",
                 stream_id=7, first_sequence=102, source_id=SOURCE,
                 trailing=b"\x01\x02\x03", result="BAD_BODY_LENGTH"),
        datagram("datagram_truncated_frame",
                 "The second frame is cut short: a datagram never continues "
                 "in the next one.", "DATA",
                 frames=[d(100, b"a"), truncate(d(101, b"bc").segs, 20)],
                 count=2, result="BAD_BODY_LENGTH", **common),
        datagram("datagram_wrong_frame_type",
                 "A DATA datagram carrying a PUBLISH frame.", "DATA",
                 frames=[p(1, b"x", stream_id=7)], result="BAD_FIELD",
                 **common),
        datagram("datagram_publish_carrying_data",
                 "A PUBLISH datagram carrying a DATA frame.", "PUBLISH",
                 stream_id=3, first_sequence=1, source_id=1,
                 frames=[d(1, b"x", stream_id=3)], result="BAD_FIELD"),
        datagram("datagram_frame_stream_mismatch",
                 "A DATA datagram for stream 7 carrying a frame of stream 8.",
                 "DATA", frames=[d(100, b"a"), d(101, b"b", stream_id=8)],
                 result="BAD_FIELD", **common),
        datagram("datagram_sequence_gap",
                 "DATA sequences 100 then 102: not contiguous.", "DATA",
                 frames=[d(100, b"a"), d(102, b"b")], result="BAD_FIELD",
                 **common),
        datagram("datagram_first_sequence_mismatch",
                 "The header says first_sequence 100, the frame is 99.",
                 "DATA", frames=[d(99, b"a")], result="BAD_FIELD", **common),
        datagram("datagram_frame_bad_padding",
                 "A frame inside the datagram has non-zero padding.", "DATA",
                 frames=[data(stream_id=7, sequence=100, payload=b"a",
                              padding=b"\x00" * 6 + b"\x01")],
                 result="BAD_PADDING", **common),
        datagram("datagram_frame_too_long",
                 "A 72-byte frame in a datagram decoded with "
                 "max_frame_length 64.", "DATA",
                 frames=[d(100, b"p" * 40)], result="FRAME_TOO_LONG",
                 max_frame_length=64, **common),
        # -- Version 2: authenticated (PROTOCOL.md 16.7). --
        auth_datagram("datagram_v2_publish_one",
                      "An authenticated PUBLISH datagram of producer 5: "
                      "one frame, MAC under the test key 000102..0f.",
                      "PUBLISH", stream_id=3, first_sequence=1,
                      source_id=0x1122334455667788, producer_id=5,
                      frames=[p(1, b"buy 100")]),
        auth_datagram("datagram_v2_publish_two",
                      "An authenticated PUBLISH datagram of two frames.",
                      "PUBLISH", stream_id=3, first_sequence=41,
                      source_id=1, producer_id=0xFFFFFFFF,
                      frames=[p(9, b"x"), p(10, b"yz", ack=True)]),
        auth_datagram("datagram_v2_heartbeat",
                      "An authenticated HEARTBEAT datagram (48 bytes, the "
                      "smallest version-2 datagram).", "HEARTBEAT",
                      stream_id=7, first_sequence=102, source_id=SOURCE,
                      producer_id=1),
        auth_datagram("datagram_v2_bad_mac",
                      "The first vector with one MAC bit flipped: it decodes, "
                      "and the MAC does not verify.", "PUBLISH", stream_id=3,
                      first_sequence=1, source_id=0x1122334455667788,
                      producer_id=5, frames=[p(1, b"buy 100")],
                      flip_mac_bit=0),
        auth_datagram("datagram_v2_short",
                      "47 bytes of a version-2 HEARTBEAT: one short of header "
                      "and MAC.", "HEARTBEAT", stream_id=7,
                      first_sequence=102, source_id=SOURCE, producer_id=1,
                      cut=47, result="FRAME_TOO_SHORT"),
        auth_datagram("datagram_v2_producer_id_0",
                      "A version-2 datagram with producer_id 0.", "PUBLISH",
                      stream_id=3, first_sequence=1, source_id=1,
                      producer_id=0, frames=[p(1, b"x")], result="BAD_FIELD"),
        auth_datagram("datagram_v2_reserved_set",
                      "A version-2 datagram whose reserved u32 is 1.",
                      "PUBLISH", stream_id=3, first_sequence=1, source_id=1,
                      producer_id=5, reserved=1, frames=[p(1, b"x")],
                      result="BAD_FIELD"),
        auth_datagram("datagram_v2_bytes_before_mac",
                      "8 bytes between the last frame and the MAC.",
                      "PUBLISH", stream_id=3, first_sequence=1, source_id=1,
                      producer_id=5, frames=[p(1, b"x")], trailing=bytes(8),
                      result="BAD_BODY_LENGTH"),
        auth_datagram("datagram_v2_mac_cut",
                      "A version-2 PUBLISH datagram missing the last 8 bytes "
                      "of its MAC: the frame then runs into where the MAC "
                      "should be.", "PUBLISH", stream_id=3, first_sequence=1,
                      source_id=1, producer_id=5, frames=[p(1, b"x")],
                      cut=32 + 32 + 8, result="BAD_BODY_LENGTH"),
    ]


FILES = [
    ("session.vec", "Session control: LOGON, LOGON_ACK, LOGON_REJECT, "
     "HEARTBEAT, LOGOUT, ERROR.", session_vectors),
    ("streams.vec", "Streams: OPEN_STREAM, OPEN_STREAM_ACK, SUBSCRIBE, "
     "SUBSCRIBE_ACK, UNSUBSCRIBE, UDP_SUBSCRIBE, GAP.", stream_vectors),
    ("data.vec", "The hot path: PUBLISH, PUBLISH_ACK, DATA.", data_vectors),
    ("request.vec", "REQUEST, RESPONSE, SERVICE_LOOKUP and "
     "SERVICE_LOOKUP_ACK.", request_vectors),
    ("multi.vec", "Several frames in one buffer, and frames at the "
     "configured length limit.", multi_vectors),
    ("malformed.vec", "Malformed frames, each with the one answer the check "
     "order in include/tachyon/protocol/frame.h gives.", malformed_vectors),
    ("datagrams.vec", "UDP datagrams (include/tachyon/protocol/datagram.h), "
     "valid and malformed.", datagram_vectors),
]


# --- Rendering ---------------------------------------------------------------

COMMENT_COLUMN = 48


def hex_lines(seg):
    if seg.groups:
        groups, pos = [], 0
        for width in seg.groups:
            if pos >= len(seg.data):
                break
            groups.append(seg.data[pos:pos + width].hex())
            pos += width
        return [" ".join(groups)]
    lines = []
    for line_start in range(0, len(seg.data), 32):
        chunk = seg.data[line_start:line_start + 32]
        lines.append(" ".join(chunk[i:i + 8].hex()
                              for i in range(0, len(chunk), 8)))
    return lines


def render_value(key, value):
    if isinstance(value, bool):
        return key, "true" if value else "false"
    if isinstance(value, Name):
        return key, str(value)
    if isinstance(value, int):
        if (key in ("session_id", "source_id", "context", "instance_epoch")
                and value >= 1 << 32):
            return key, f"0x{value:x}"
        return key, str(value)
    if isinstance(value, bytes):
        if not value:
            return key, '""'
        if all(0x20 <= b <= 0x7E for b in value):
            text = value.decode("ascii").replace("\\", "\\\\")
            return key, '"' + text.replace('"', '\\"') + '"'
        return key + "_hex", value.hex()
    raise TypeError(f"{key}: {value!r}")


def render_vector(v):
    out = [f"vector {v.name}"]
    out += [f"  # {line}" for line in textwrap.wrap(
        v.doc, 74, break_long_words=False, break_on_hyphens=False)]
    out.append(f"  kind {v.kind}")
    if v.max_frame_length is not None:
        out.append(f"  max_frame_length {v.max_frame_length}")
    if not any(s.data for s in v.segs):
        out.append("  hex".ljust(COMMENT_COLUMN) + "# no bytes at all")
    for seg in v.segs:
        for i, line in enumerate(hex_lines(seg)):
            text = f"  hex {line}"
            if i == 0 and seg.comment:
                text = text.ljust(COMMENT_COLUMN - 1) + " # " + seg.comment
            out.append(text)
    for what, arg, fields in v.expects:
        out.append(f"  expect {what}" + (f" {arg}" if arg else ""))
        for key, value in fields:
            k, text = render_value(key, value)
            out.append(f"    {k} {text}")
    out.append("end")
    return "\n".join(out) + "\n"


def render_file(file_name, description, vectors):
    head = [
        f"# protocol/vectors/{file_name} — {description}",
        "# Generated by scripts/gen-vectors.py from the documented layouts; do "
        "not edit,",
        "# change the script and run it again. Format: "
        "protocol/vectors/README.md.",
    ]
    return "\n".join(head) + "\n\n" + "\n".join(render_vector(v)
                                                for v in vectors)


def build_all():
    files, names = {}, set()
    for file_name, description, make in FILES:
        vectors = make()
        for v in vectors:
            if v.name in names:
                raise SystemExit(f"duplicate vector name {v.name}")
            names.add(v.name)
        files[file_name] = render_file(file_name, description, vectors)
    return files, len(names)


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=pathlib.Path,
                        default=root / "protocol" / "vectors",
                        help="directory for the .vec files")
    parser.add_argument("--check", action="store_true",
                        help="compare with the files on disk instead of "
                        "writing; exit 1 if they differ")
    args = parser.parse_args()

    files, count = build_all()
    stale = sorted(p.name for p in args.out.glob("*.vec") if p.name not in files)
    if args.check:
        bad = [name for name, text in files.items()
               if not (args.out / name).is_file()
               or (args.out / name).read_bytes() != text.encode("utf-8")]
        bad += stale
        if bad:
            print("gen-vectors: out of date: " + ", ".join(bad),
                  file=sys.stderr)
            return 1
        print(f"gen-vectors: {len(files)} files, {count} vectors up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:  # only .vec files this script no longer produces
        (args.out / name).unlink()
    for name, text in files.items():
        path = args.out / name
        if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            path.write_bytes(text.encode("utf-8"))
    print(f"gen-vectors: wrote {len(files)} files, {count} vectors to "
          f"{args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
