#!/usr/bin/env python3
"""Writes the golden vectors' raw bytes as a libFuzzer seed corpus.

Usage: vectors-to-corpus.py VECTOR_DIR CORPUS_DIR TARGET_NAME

Each vector in VECTOR_DIR/*.vec (format: protocol/vectors/README.md) becomes
one file CORPUS_DIR/<file>-<vector>.bin holding exactly its input bytes.
TARGET_NAME picks the vectors: "fuzz_frame_decoder" takes the frame vectors,
"fuzz_datagram" the datagram vectors, any other name all of them. Running it
again rewrites nothing that is already current (idempotent); files libFuzzer
added to CORPUS_DIR are left alone. Standard library only.
"""

import pathlib
import sys

KINDS_BY_TARGET = {
    "fuzz_frame_decoder": {"frame"},
    "fuzz_datagram": {"datagram"},
}


def strip_comment(line):
    """Drops a '#' comment that is outside a double-quoted string."""
    quoted, i = False, 0
    while i < len(line):
        c = line[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "#":
            return line[:i]
        i += 1
    return line


def read_vectors(path):
    """Yields (name, kind, bytes) for each vector in one .vec file."""
    name, kind, data = None, None, bytearray()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(),
                                 start=1):
        words = strip_comment(raw).split(None, 1)
        if not words:
            continue
        word, arg = words[0], (words[1] if len(words) > 1 else "")
        try:
            if word == "vector":
                name, kind, data = arg.strip(), None, bytearray()
            elif name is None:
                continue
            elif word == "kind" and kind is None:
                kind = arg.strip()
            elif word == "hex":
                data += bytes.fromhex(arg)
            elif word == "end":
                yield name, kind, bytes(data)
                name = None
        except ValueError as e:
            raise SystemExit(f"{path}:{number}: {e}") from None


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    vector_dir, corpus_dir = pathlib.Path(argv[1]), pathlib.Path(argv[2])
    target = argv[3]
    kinds = KINDS_BY_TARGET.get(target, {"frame", "datagram"})
    files = sorted(vector_dir.glob("*.vec"))
    if not files:
        print(f"vectors-to-corpus: no .vec files in {vector_dir}",
              file=sys.stderr)
        return 1
    corpus_dir.mkdir(parents=True, exist_ok=True)
    written = kept = 0
    for path in files:
        for name, kind, data in read_vectors(path):
            if kind not in kinds:
                continue
            out = corpus_dir / f"{path.stem}-{name}.bin"
            if out.is_file() and out.read_bytes() == data:
                kept += 1
                continue
            out.write_bytes(data)
            written += 1
    print(f"vectors-to-corpus: {target}: {written} written, {kept} already "
          f"current in {corpus_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
