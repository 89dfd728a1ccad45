"""Reference side of the tensor-io tests, run with Debian's /usr/bin/python3 (numpy only).

  numpy_reference.py write DIR CASES_JSON   np.save every case to DIR/<name>.npy and write
                                            DIR/reference.safetensors with the reference layout
  numpy_reference.py check DIR CASES_JSON   np.load DIR/<name>.npy and parse DIR/gengap.safetensors,
                                            compare with the expected values; prints "ok" or fails

A case is {"name", "dtype" (numpy name), "shape"}; its values are np.arange(n) cast to the dtype
(modulo 2 for bool), reshaped. The safetensors side follows the format's specification with struct
and json (the `safetensors` package is not in Debian): 8-byte little-endian header size, JSON header,
data sorted as the reference implementation sorts it, header padded with spaces to 8 bytes.
"""
import json
import struct
import sys

import numpy as np

ST_CODES = {
    "float16": "F16", "float32": "F32", "float64": "F64", "int8": "I8", "int16": "I16",
    "int32": "I32", "int64": "I64", "uint8": "U8", "uint16": "U16", "uint32": "U32",
    "uint64": "U64", "bool": "BOOL",
}
# The reference implementation's Rust enum order; tensors are sorted by it, descending, then by name.
RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
        "F64", "I64", "U64"]


def expected(case):
    n = int(np.prod(case["shape"], dtype=np.int64))
    values = np.arange(n)
    if case["dtype"] == "bool":
        values = values % 2
    return values.astype(case["dtype"]).reshape(case["shape"])


def write_safetensors(path, arrays, metadata):
    order = sorted(arrays.items(), key=lambda kv: (-RANK.index(ST_CODES[str(kv[1].dtype)]), kv[0]))
    header = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    for name, a in order:
        header[name] = {"dtype": ST_CODES[str(a.dtype)], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, a in order:
            f.write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, "header not padded to 8 bytes"
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    codes = {v: k for k, v in ST_CODES.items()}
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(codes[info["dtype"]]).newbyteorder("<")
        assert begin % dtype.itemsize == 0, f"{name} misaligned"
        out[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(info["shape"])
    return out, metadata


def main():
    command, folder, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    if command == "write":
        arrays = {}
        for case in cases:
            a = expected(case)
            np.save(f"{folder}/{case['name']}.npy", a)
            arrays[case["name"]] = a
        write_safetensors(f"{folder}/reference.safetensors", arrays, {"format": "pt", "step": "120"})
    elif command == "check":
        tensors, metadata = read_safetensors(f"{folder}/gengap.safetensors")
        assert metadata == {"format": "pt", "step": "120"}, metadata
        for case in cases:
            want = expected(case)
            got = np.load(f"{folder}/{case['name']}.npy")
            assert got.dtype == want.dtype and got.shape == want.shape, (case, got.dtype, got.shape)
            assert np.array_equal(got, want), case["name"]
            st = tensors[case["name"]]
            assert st.dtype == want.dtype and st.shape == want.shape, (case, st.dtype, st.shape)
            assert np.array_equal(st, want), case["name"]
        print("ok")
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
