#!/usr/bin/python3
# Regenerates onnx/onnx.proto (the vendored ONNX schema in proto3 syntax) from Debian's python3-onnx,
# using ONNX's own proto2 -> proto3 translation (onnx.gen_proto.translate), so the schema is exactly the
# one the ONNX checker used in our tests understands (ONNX 1.12: IR version 8, opsets up to 17).
# Run with Debian's Python: /usr/bin/python3 libs/engine/proto/vendor-onnx-proto.py
import os

import onnx
from onnx.gen_proto import translate

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(os.path.dirname(onnx.__file__), "onnx.in.proto")
TARGET = os.path.join(HERE, "onnx", "onnx.proto")

HEADER = f"""// Vendored ONNX schema (proto3 form of onnx.in.proto from ONNX {onnx.__version__}, IR version 8).
// Source: Debian python3-onnx {onnx.__version__}, translated by onnx.gen_proto.translate(proto=3, onnx_ml=False).
// Regenerate with libs/engine/proto/vendor-onnx-proto.py; never edit by hand.
"""

with open(SOURCE) as fin:
    body = translate(fin.read(), proto=3, onnx_ml=False, package_name="onnx")
with open(TARGET, "w", newline="") as fout:
    fout.write(HEADER)
    fout.write(body)
    fout.write("\n")
print(f"wrote {TARGET}")
