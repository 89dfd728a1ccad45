#!/usr/bin/python3
"""Run a GenGap experiment from Python: start a preset (or a spec file) through the coordinator,
follow its watch stream to the end, then download one run's trained parameters from the trainer
and save each tensor as a .npy file.

    PYTHONPATH=clients/python /usr/bin/python3 clients/python/examples/run_experiment.py \\
        --coordinator 127.0.0.1:50051 --trainer 127.0.0.1:50052 --preset zhang2017 --out params/

Needs python3-grpcio, python3-protobuf and python3-numpy (Debian) or grpcio/protobuf/numpy (pip).
The last line printed is a JSON summary (experiment id, final state, runs, saved tensors).

The watch is resumable: when the coordinator goes away mid-stream (a restart, a rolling update)
the client reconnects and continues from the last event it saw, so no event is lost or repeated.
Parameters arrive as checksummed chunks (CRC-32 per chunk, SHA-256 per tensor, consecutive
sequence numbers), and the client checks all three before it writes a file.
"""

import argparse
import hashlib
import json
import os
import sys
import time
import uuid
import zlib

try:
    import gengap  # noqa: F401  (the generated stubs)
except ImportError:  # running from a checkout without PYTHONPATH: use the stubs next to this folder
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import grpc
import numpy as np
from google.protobuf import json_format

from gengap.common.v1 import job_pb2, refs_pb2, tensor_pb2
from gengap.coordinator.v1 import coordinator_service_pb2 as coordinator
from gengap.coordinator.v1 import coordinator_service_pb2_grpc as coordinator_grpc
from gengap.trainer.v1 import trainer_service_pb2 as trainer
from gengap.trainer.v1 import trainer_service_pb2_grpc as trainer_grpc

TERMINAL = {job_pb2.JOB_STATE_SUCCEEDED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED}
NUMPY_DTYPES = {
    tensor_pb2.DATA_TYPE_FLOAT32: np.dtype("<f4"),
    tensor_pb2.DATA_TYPE_FLOAT64: np.dtype("<f8"),
    tensor_pb2.DATA_TYPE_INT32: np.dtype("<i4"),
    tensor_pb2.DATA_TYPE_INT64: np.dtype("<i8"),
    tensor_pb2.DATA_TYPE_UINT8: np.dtype("u1"),
}
# Retry on these while following the experiment (the coordinator restarting, a deadline on a hop).
# A stream cut by a server that died (rather than drained) reaches grpc core's Python client as
# UNKNOWN "Stream removed" or INTERNAL "RST_STREAM"; the watch is read-only and resumes from the next
# sequence, so retrying those is safe too (the same set as the gengap CLI's).
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
             grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.ABORTED,
             grpc.StatusCode.RESOURCE_EXHAUSTED}
# Consecutive failed attempts (no event in between) before the client gives up.
MAX_FAILED_ATTEMPTS = 60


def log(message):
    print(message, file=sys.stderr, flush=True)


def state_name(state):
    return job_pb2.JobState.Name(state)


def start_experiment(stub, preset, size, spec_file, key, timeout):
    request = coordinator.StartExperimentRequest(idempotency_key=key, labels={"client": "python-example"})
    if spec_file:
        with open(spec_file) as f:
            request.spec_text = f.read()  # YAML or JSON, the ExperimentSpec's protobuf JSON mapping
    else:
        request.preset.CopyFrom(coordinator.PresetRef(name=preset, size=size))
    response = stub.StartExperiment(request, timeout=timeout)
    experiment = response.experiment
    log(f"experiment {experiment.experiment_id} ({'started' if response.created else 'already running'}), "
        f"{len(experiment.runs)} runs")
    return experiment


def follow(channel_factory, experiment_id, deadline):
    """Follows WatchExperiment until the experiment ends; reconnects from the last sequence seen."""
    next_sequence = 0
    final_state = None
    reconnects = 0
    events = 0
    failed, sequence_at_failure = 0, -1
    while final_state is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"experiment {experiment_id} did not finish in time")
        channel = channel_factory()
        stub = coordinator_grpc.CoordinatorServiceStub(channel)
        try:
            stream = stub.WatchExperiment(
                coordinator.WatchExperimentRequest(experiment_id=experiment_id, from_sequence=next_sequence),
                timeout=max(1.0, deadline - time.monotonic()),
            )
            for response in stream:
                event = response.event
                if event.sequence < next_sequence:
                    raise RuntimeError(f"event {event.sequence} repeated (expected >= {next_sequence})")
                next_sequence = event.sequence + 1
                events += 1
                kind = event.WhichOneof("event")
                if kind == "status":
                    log(f"  [{event.sequence}] experiment {state_name(event.status.state)} "
                        f"{event.status.progress:.0%} {event.status.phase}")
                    if event.status.state in TERMINAL:
                        final_state = event.status.state
                        break
                elif kind == "run":
                    run = event.run
                    log(f"  [{event.sequence}] run {run.label or run.cell_id}: {state_name(run.status.state)}"
                        f" (attempt {run.status.attempt or run.attempts})")
                elif kind == "run_progress":
                    epoch = event.run_progress.epoch
                    log(f"  [{event.sequence}] {event.run_progress.cell_id[:12]} epoch {epoch.epoch} "
                        f"{event.run_progress.progress:.0%}")
            else:
                # The stream ended without a terminal status: ask for the experiment's state.
                got = stub.GetExperiment(coordinator.GetExperimentRequest(experiment_id=experiment_id), timeout=30)
                if got.experiment.status.state in TERMINAL:
                    final_state = got.experiment.status.state
        except grpc.RpcError as err:
            if err.code() not in RETRYABLE:
                raise
            failed = failed + 1 if next_sequence == sequence_at_failure else 1
            sequence_at_failure = next_sequence
            if failed > MAX_FAILED_ATTEMPTS:
                raise
            reconnects += 1
            log(f"  watch interrupted ({err.code().name}); resuming from event {next_sequence}")
            time.sleep(min(5.0, 0.5 * reconnects))
        finally:
            channel.close()
    return final_state, events, reconnects


def read_parameters(stub, run_id, out_dir, timeout):
    """Streams a run's final checkpoint, verifies every checksum, writes <tensor>.npy files."""
    os.makedirs(out_dir, exist_ok=True)
    request = trainer.ReadParametersRequest(checkpoint=refs_pb2.RunCheckpoint(run_id=run_id, step=0),
                                            chunk_bytes=64 * 1024)
    expected_sequence = 0
    current = None  # (name, dtype, shape, bytearray, sha256)
    saved = []
    model = None
    for response in stub.ReadParameters(request, timeout=timeout):
        if response.HasField("model"):
            model = json_format.MessageToDict(response.model)
        chunk = response.chunk
        if chunk.sequence != expected_sequence:
            raise ValueError(f"chunk {chunk.sequence} arrived where {expected_sequence} was due")
        expected_sequence += 1
        if zlib.crc32(chunk.data) & 0xFFFFFFFF != chunk.crc32:
            raise ValueError(f"CRC-32 mismatch in chunk {chunk.sequence} of {chunk.tensor_name}")
        if current is None or current[0] != chunk.tensor_name:
            if current is not None:
                raise ValueError(f"tensor {current[0]} ended without its last chunk")
            current = (chunk.tensor_name, chunk.dtype, tuple(chunk.shape), bytearray(), hashlib.sha256())
        name, dtype, shape, data, digest = current
        if chunk.offset != len(data):
            raise ValueError(f"{name}: chunk at offset {chunk.offset}, expected {len(data)}")
        data.extend(chunk.data)
        digest.update(chunk.data)
        if chunk.last_of_tensor:
            if digest.hexdigest() != chunk.sha256_hex:
                raise ValueError(f"{name}: SHA-256 mismatch")
            array = np.frombuffer(bytes(data), dtype=NUMPY_DTYPES[dtype]).reshape(shape)
            path = os.path.join(out_dir, f"{name.replace('/', '_')}.npy")
            np.save(path, array)
            saved.append({"name": name, "shape": list(shape), "dtype": str(array.dtype),
                          "sha256": chunk.sha256_hex, "path": path})
            current = None
    if current is not None:
        raise ValueError(f"stream ended inside tensor {current[0]}")
    if model is not None:
        with open(os.path.join(out_dir, "model.json"), "w") as f:
            json.dump(model, f, indent=2)
    return saved


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call (works on plaintext and TLS channels)."""

    def __init__(self, token):
        self._metadata = ("authorization", f"Bearer {token}")

    def _with_token(self, details):
        metadata = list(details.metadata or []) + [self._metadata]
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else _CallDetails(
            details.method, details.timeout, metadata, details.credentials,
            getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready, self.compression = credentials, wait_for_ready, compression


def open_channel(address, args, options):
    """A channel to `address`: TLS when --tls-ca is given (mutual with --tls-cert/--tls-key), the
    bearer token of --token on every call."""
    if args.tls_ca:
        def read(path):
            with open(path, "rb") as f:
                return f.read()
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(args.tls_ca),
            private_key=read(args.tls_key) if args.tls_key else None,
            certificate_chain=read(args.tls_cert) if args.tls_cert else None)
        if args.tls_server_name:
            options = options + [("grpc.ssl_target_name_override", args.tls_server_name)]
        channel = grpc.secure_channel(address, creds, options=options)
    else:
        channel = grpc.insecure_channel(address, options=options)
    return grpc.intercept_channel(channel, _BearerToken(args.token)) if args.token else channel


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coordinator", default=os.environ.get("GENGAP_COORDINATOR", "127.0.0.1:50051"))
    parser.add_argument("--trainer", default=os.environ.get("GENGAP_TRAINER"),
                        help="trainer address for ReadParameters (omit to skip the download)")
    parser.add_argument("--preset", default="zhang2017")
    parser.add_argument("--size", default="quick")
    parser.add_argument("--spec", default=None, help="an experiment spec file (YAML or JSON) instead of a preset")
    parser.add_argument("--key", default=None, help="idempotency key (default: a fresh one)")
    parser.add_argument("--out", default="gengap-parameters")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the whole experiment")
    parser.add_argument("--token", default=os.environ.get("GENGAP_TOKEN"),
                        help="bearer token (services with GENGAP_AUTH_TOKENS); env GENGAP_TOKEN")
    parser.add_argument("--tls-ca", default=None, help="CA certificate (PEM): use TLS and verify the services")
    parser.add_argument("--tls-cert", default=None, help="client certificate (PEM) for mutual TLS")
    parser.add_argument("--tls-key", default=None, help="key of --tls-cert (PEM)")
    parser.add_argument("--tls-server-name", default=None, help="name expected in the services' certificates")
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]

    def channel_factory():
        return open_channel(args.coordinator, args, options)

    with channel_factory() as channel:
        grpc.channel_ready_future(channel).result(timeout=60)
        stub = coordinator_grpc.CoordinatorServiceStub(channel)
        experiment = start_experiment(stub, args.preset, args.size, args.spec, args.key or f"python-{uuid.uuid4()}",
                                      60)

    final_state, events, reconnects = follow(channel_factory, experiment.experiment_id, deadline)
    log(f"experiment {experiment.experiment_id} ended {state_name(final_state)} "
        f"after {events} events ({reconnects} reconnects)")

    with channel_factory() as channel:
        stub = coordinator_grpc.CoordinatorServiceStub(channel)
        experiment = stub.GetExperiment(
            coordinator.GetExperimentRequest(experiment_id=experiment.experiment_id), timeout=30).experiment

    saved = []
    succeeded = [r for r in experiment.runs if r.status.state == job_pb2.JOB_STATE_SUCCEEDED and r.run_id]
    if args.trainer and succeeded:
        run = succeeded[0]
        with open_channel(args.trainer, args, options) as channel:
            saved = read_parameters(trainer_grpc.TrainerServiceStub(channel), run.run_id,
                                    os.path.join(args.out, run.run_id), timeout=300)
        log(f"saved {len(saved)} tensors of run {run.run_id} under {args.out}")

    print(json.dumps({
        "experiment_id": experiment.experiment_id,
        "state": state_name(experiment.status.state),
        "runs": [{"cell_id": r.cell_id, "run_id": r.run_id, "state": state_name(r.status.state)}
                 for r in experiment.runs],
        "events": events,
        "reconnects": reconnects,
        "report_url": experiment.report_url,
        "report_path": experiment.report_path,
        "parameters": saved,
    }))
    return 0 if final_state == job_pb2.JOB_STATE_SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
