#!/usr/bin/python3
# PyTorch peer of bench/engine.ts: the same MLP, batch, optimizer and step counts, on one thread.
# Serves timing rounds on request so the benchmark can interleave GenGap and PyTorch rounds: each line
# on stdin names a measurement ("train", "hvp" or "gemm"), each reply is one JSON line
# {"value": <from wall-clock time>, "cpu": <the same from this process's CPU time>}:
#   train: samples/s of one round of --steps SGD steps at --batch (zero_grad, forward, backward, step)
#   hvp:   milliseconds of one Hessian-vector product at --hvp-batch by double backward
#   hvp_repeat: the same for a further v on the same batch, reusing the retained gradient graph (the
#          Lanczos idiom: torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True))
#   gemm:  GFLOP/s of one --gemm x --gemm matrix product
# Run with Debian's Python (python3-torch with OpenBLAS): OPENBLAS_NUM_THREADS=1 /usr/bin/python3 ...
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)


def mlp(widths):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class Peer:
    def __init__(self, a):
        torch.manual_seed(0)
        self.steps, self.batch, self.gemm_n = a.steps, a.batch, a.gemm
        widths = [int(w) for w in a.widths.split(",")]
        self.model = mlp(widths)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.x = torch.randn(a.steps, a.batch, widths[0])
        self.y = torch.randint(0, widths[-1], (a.steps, a.batch))
        self.hx = torch.randn(a.hvp_batch, widths[0])
        self.hy = torch.randint(0, widths[-1], (a.hvp_batch,))
        # HVPs use their own copy of the network: training rounds update self.model in place, which
        # would invalidate the retained gradient graph.
        self.hvp_model = mlp(widths)
        self.params = list(self.hvp_model.parameters())
        self.v = [torch.randn_like(p) for p in self.params]
        loss = self.loss_fn(self.hvp_model(self.hx), self.hy)
        self.retained = torch.autograd.grad(loss, self.params, create_graph=True)
        self.ga = torch.randn(a.gemm, a.gemm)
        self.gb = torch.randn(a.gemm, a.gemm)

    def train_once(self):
        for k in range(self.steps):
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(self.x[k]), self.y[k])
            loss.backward()
            self.opt.step()

    def hvp_once(self):
        loss = self.loss_fn(self.hvp_model(self.hx), self.hy)
        grads = torch.autograd.grad(loss, self.params, create_graph=True)
        dot = sum((g * vi).sum() for g, vi in zip(grads, self.v))
        torch.autograd.grad(dot, self.params)

    def hvp_repeat_once(self):
        torch.autograd.grad(self.retained, self.params, grad_outputs=self.v, retain_graph=True)

    def gemm_once(self):
        torch.mm(self.ga, self.gb)

    def measure(self, what):
        """(wall seconds, CPU seconds) of one round converted to the measurement's unit."""
        wall, cpu = time.perf_counter(), time.process_time()
        getattr(self, f"{what}_once")()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        unit = {
            "train": lambda s: self.steps * self.batch / s,
            "hvp": lambda s: s * 1000,
            "hvp_repeat": lambda s: s * 1000,
            "gemm": lambda s: 2 * self.gemm_n ** 3 / s / 1e9,
        }[what]
        return {"value": unit(wall), "cpu": unit(cpu)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--widths", default="784,256,256,10")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--hvp-batch", type=int, default=1000)
    p.add_argument("--gemm", type=int, default=1024)
    a = p.parse_args()
    peer = Peer(a)
    measurements = ("train", "hvp", "hvp_repeat", "gemm")
    for what in measurements:  # warm-up
        peer.measure(what)
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        what = line.strip()
        if what not in measurements:
            print(json.dumps({"error": f"unknown measurement {what}"}), flush=True)
            continue
        print(json.dumps(peer.measure(what)), flush=True)


if __name__ == "__main__":
    main()
