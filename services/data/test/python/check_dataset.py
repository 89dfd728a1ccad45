"""Opens a GenGap dataset directory with nothing but json, hashlib and numpy, checks it against its
manifest, and prints a JSON summary. Run with Debian's /usr/bin/python3 (python3-numpy).

    check_dataset.py DATASET_DIR [--rank K]

Checks: every file's sha256 matches manifest.fileSha256; for each split, x is float32 with shape
[numExamples, *inputShape], y (and y_clean) int64 of shape [numExamples] with labels in
[0, numClasses); class counts, input mean/std and the label corruption fraction match the manifest.
With --rank K: the train inputs have numerical rank K (data on a K-dimensional subspace).
"""
import hashlib
import json
import os
import sys

import numpy as np


def main():
    folder = sys.argv[1]
    rank = int(sys.argv[sys.argv.index("--rank") + 1]) if "--rank" in sys.argv else None
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    for name, digest in manifest["fileSha256"].items():
        with open(os.path.join(folder, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, f"{name}: sha256 differs from the manifest"
    num_classes = manifest["numClasses"]
    summary = {"datasetId": manifest["datasetId"], "splits": {}}
    for split, tensors in manifest["storage"]["splits"].items():
        stats = manifest[split]
        n = int(stats.get("numExamples", 0))
        shape = [int(d) for d in stats["inputShape"]]
        x = np.load(os.path.join(folder, tensors["x"]["file"]))
        y = np.load(os.path.join(folder, tensors["y"]["file"]))
        assert x.dtype == np.float32 and list(x.shape) == [n, *shape], (split, x.dtype, x.shape)
        assert y.dtype == np.int64 and y.shape == (n,), (split, y.dtype, y.shape)
        assert n == 0 or (y.min() >= 0 and y.max() < num_classes), f"{split}: labels out of range"
        counts = np.bincount(y, minlength=num_classes).tolist()
        assert counts == [int(c) for c in stats["classCounts"]], (split, counts, stats["classCounts"])
        mean, std = float(x.astype(np.float64).mean()), float(x.astype(np.float64).std())
        assert abs(mean - stats.get("inputMean", 0)) <= 1e-9 * max(1, abs(mean)), (split, mean, stats.get("inputMean"))
        assert abs(std - stats.get("inputStd", 0)) <= 1e-9 * max(1, std), (split, std, stats.get("inputStd"))
        corrupted = 0.0
        if "y_clean" in tensors:
            y_clean = np.load(os.path.join(folder, tensors["y_clean"]["file"]))
            assert y_clean.dtype == np.int64 and y_clean.shape == (n,)
            corrupted = float((y != y_clean).mean())
        assert abs(corrupted - stats.get("labelCorruptionFraction", 0)) < 1e-12, (split, corrupted)
        summary["splits"][split] = {"shape": list(x.shape), "classCounts": counts, "corrupted": corrupted}
    if rank is not None:
        x = np.load(os.path.join(folder, manifest["storage"]["splits"]["train"]["x"]["file"])).astype(np.float64)
        singular = np.linalg.svd(x, compute_uv=False)
        found = int((singular > singular[0] * 1e-5).sum())
        assert found == rank, f"numerical rank {found}, expected {rank}: {singular[:rank + 2]}"
        basis = np.load(os.path.join(folder, "basis.npy"))
        assert np.allclose(basis.T @ basis, np.eye(rank), atol=1e-12), "basis is not orthonormal"
        summary["rank"] = found
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
