"""SAM frames of the ID-card reader, built and parsed byte by byte. Pure: no I/O.

A frame (reference/iot.md §5.1)::

    AA AA AA 96 69 | Len (2, big-endian) | body | CHK
    request body:  CMD PARA DATA…        (Len = 2 + len(DATA) + 1)
    response body: SW1 SW2 SW3 DATA…     (Len = 3 + len(DATA) + 1)
    CHK = XOR of every byte from Len's high byte through the last body byte

:class:`FrameParser` is fed whatever the serial port delivers (frames split anywhere,
garbage before or between them, corrupted frames) and yields whole frames. It never
raises; what it throws away it counts in :class:`FrameStats`. Building or decoding a frame
raises only :class:`FrameError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_SIZE = len(PREAMBLE) + 2  # preamble and the length field
MIN_LENGTH = 3  # CMD PARA CHK: the shortest frame there is
# The longest answer of the protocol is text + photo + fingerprint (30 10): Len 2314. A
# length beyond this is corruption, not a frame to wait for.
MAX_LENGTH = 4096
MAX_DATA = MAX_LENGTH - 4

# Commands: (CMD, PARA).
RESET = (0x10, 0xFF)
SAM_STATUS = (0x11, 0xFF)
SAM_ID = (0x12, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_TEXT_PHOTO = (0x30, 0x01)
READ_NEW_ADDRESS = (0x30, 0x03)

# SW3 status bytes (reference/iot.md §5.3).
OK = 0x90
CARD_FOUND = 0x9F
NO_CONTENT = 0x91
NO_CARD = 0x80
SELECT_FAILED = 0x81
READ_FAILED = 0x41
CHECKSUM_ERROR = 0x10
LENGTH_ERROR = 0x11
COMMAND_ERROR = 0x21
SAM_SELF_TEST_FAILED = 0x60
SAM_NOT_AUTHORISED = 0x66
SAM_FAULTS = frozenset({SAM_SELF_TEST_FAILED, SAM_NOT_AUTHORISED})

STATUS_TEXT: dict[int, str] = {
    OK: "success",
    CARD_FOUND: "card found",
    NO_CONTENT: "no content",
    CHECKSUM_ERROR: "checksum error in the command",
    LENGTH_ERROR: "length error in the command",
    COMMAND_ERROR: "unknown command",
    0x23: "operation not permitted",
    0x24: "unrecognised error",
    0x31: "card failed to authenticate the SAM",
    0x32: "SAM failed to authenticate the card",
    0x33: "information verification error",
    0x40: "unrecognised card type",
    READ_FAILED: "read card failed",
    0x47: "get random number failed",
    SAM_SELF_TEST_FAILED: "SAM self-test failed",
    SAM_NOT_AUTHORISED: "SAM not authorised",
    NO_CARD: "no card",
    SELECT_FAILED: "select card failed",
}


def describe_status(sw3: int) -> str:
    """``"60 (SAM self-test failed)"``: the code and its meaning, for device states and logs."""
    return f"{sw3:02X} ({STATUS_TEXT.get(sw3, 'unknown status')})"


class FrameError(ValueError):
    """A frame that cannot be built, or a frame body that is not what it should be."""


def xor(data: bytes | bytearray | memoryview) -> int:
    """XOR of all bytes: the frame checksum."""
    # Fold the bytes as one integer, halving it each round: a few big-integer operations
    # instead of a Python loop over the 1295 bytes of a card read.
    value = int.from_bytes(data, "little")
    width = len(data)
    while width > 1:
        half = (width + 1) // 2
        value = (value >> (8 * half)) ^ (value & ((1 << (8 * half)) - 1))
        width = half
    return value


def _frame(body: bytes) -> bytes:
    length = len(body) + 1
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise FrameError(f"a frame carries 2-{MAX_LENGTH - 1} bytes, not {len(body)}")
    head = length.to_bytes(2, "big") + body
    return PREAMBLE + head + bytes([xor(head)])


def _byte(name: str, value: int) -> int:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise FrameError(f"{name} must be a byte (0-255), got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Frame:
    """A whole frame that passed the length and checksum checks: the bytes between the
    length field and the checksum."""

    body: bytes

    def to_bytes(self) -> bytes:
        return _frame(self.body)


@dataclass(frozen=True, slots=True)
class Request:
    """Host → SAM."""

    cmd: int
    para: int
    data: bytes = b""

    @classmethod
    def of(cls, command: tuple[int, int], data: bytes = b"") -> Request:
        return cls(command[0], command[1], data)

    @property
    def command(self) -> tuple[int, int]:
        return (self.cmd, self.para)

    def to_bytes(self) -> bytes:
        body = bytes([_byte("CMD", self.cmd), _byte("PARA", self.para)]) + bytes(self.data)
        return _frame(body)

    @classmethod
    def from_frame(cls, frame: Frame) -> Request:
        if len(frame.body) < 2:
            raise FrameError("a request needs CMD and PARA")
        return cls(frame.body[0], frame.body[1], frame.body[2:])


@dataclass(frozen=True, slots=True, repr=False)
class Response:
    """SAM → host. ``repr`` leaves ``data`` out: it may be a resident's identity."""

    sw3: int
    data: bytes = b""
    sw1: int = 0
    sw2: int = 0

    def __repr__(self) -> str:
        return f"Response({describe_status(self.sw3)}, {len(self.data)} bytes)"

    def to_bytes(self) -> bytes:
        status = (_byte("SW1", self.sw1), _byte("SW2", self.sw2), _byte("SW3", self.sw3))
        return _frame(bytes(status) + bytes(self.data))

    @classmethod
    def from_frame(cls, frame: Frame) -> Response:
        if len(frame.body) < 3:
            raise FrameError("a response needs SW1, SW2 and SW3")
        body = frame.body
        return cls(sw3=body[2], data=body[3:], sw1=body[0], sw2=body[1])


@dataclass(slots=True)
class FrameStats:
    """What a parser saw. ``garbage_bytes`` counts every byte that was not part of a frame."""

    frames: int = 0
    garbage_bytes: int = 0
    bad_checksums: int = 0
    bad_lengths: int = 0
    truncated: int = 0  # frames given up half-way (a short read, the other end went quiet)


@dataclass(slots=True)
class FrameParser:
    """Whole frames out of a byte stream, however it is cut. Never raises.

    On a bad length or checksum it skips one byte and looks for the next preamble, so a
    real frame right after a false start is still found.
    """

    max_length: int = MAX_LENGTH
    stats: FrameStats = field(default_factory=FrameStats)
    _buffer: bytearray = field(default_factory=bytearray)

    @property
    def pending(self) -> int:
        """Bytes held back: the start of a frame not yet complete."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Every frame completed by ``data``, in order."""
        self._buffer += data
        return self._scan()

    def flush(self) -> list[Frame]:
        """Give up waiting for the frame in progress (the line went quiet).

        Its false start is skipped, so a whole frame hidden behind it (e.g. after a header
        whose length field was corrupted) is still returned; the rest is counted as
        truncated and dropped.
        """
        frames: list[Frame] = []
        if self._buffer:
            self.stats.truncated += 1
        while self._buffer:  # each round drops at least one byte
            self._drop(1)
            frames += self._scan()
        return frames

    def clear(self) -> None:
        """Drop a frame in progress, counting it as truncated."""
        if self._buffer:
            self.stats.truncated += 1
            self._drop(len(self._buffer))

    def _drop(self, count: int) -> None:
        self.stats.garbage_bytes += count
        del self._buffer[:count]

    def _scan(self) -> list[Frame]:
        frames: list[Frame] = []
        buffer = self._buffer
        while buffer:
            start = buffer.find(PREAMBLE)
            if start < 0:
                self._drop(len(buffer) - _preamble_prefix(buffer))
                break
            if start:
                self._drop(start)
            if len(buffer) < HEADER_SIZE:
                break
            length = int.from_bytes(buffer[5:7], "big")
            if not MIN_LENGTH <= length <= self.max_length:
                self.stats.bad_lengths += 1
                self._drop(1)
                continue
            end = HEADER_SIZE + length
            if len(buffer) < end:
                break
            if xor(memoryview(buffer)[5 : end - 1]) != buffer[end - 1]:
                self.stats.bad_checksums += 1
                self._drop(1)
                continue
            frames.append(Frame(bytes(buffer[HEADER_SIZE : end - 1])))
            self.stats.frames += 1
            del buffer[:end]
        return frames


def _preamble_prefix(buffer: bytearray) -> int:
    """How many bytes at the end of ``buffer`` could be the start of a preamble."""
    for size in range(min(len(PREAMBLE) - 1, len(buffer)), 0, -1):
        if buffer.endswith(PREAMBLE[:size]):
            return size
    return 0


def format_sam_id(data: bytes) -> str:
    """The SAM's 16-byte id as vendors' tools show it: ``05.01-20231101-000000001-123456789``.

    Bytes 0 and 2 are the version, then three little-endian 32-bit numbers. Anything else
    is shown in hex rather than refused: the id is for people, not for decisions.
    """
    if len(data) != 16:
        return data.hex()
    numbers = [int.from_bytes(data[i : i + 4], "little") for i in (4, 8, 12)]
    return f"{data[0]:02d}.{data[2]:02d}-{numbers[0]}-{numbers[1]:09d}-{numbers[2]:09d}"
