"""The CRI runtimes a running containerd serves, as one JSON line.

Input: `python cri_status.py <socket> [timeout seconds, default 5]`, the socket of a running
containerd (1.6, 1.7 or 2.x; the CRI plugin's verbose status has the same layout in all).
Output: on stdout
  {"runtimes": {name: {"runtimeType": ..., "binary": options.BinaryName or null}},
   "default": defaultRuntimeName}
from `RuntimeService.Status(verbose=True)`, `info["config"]`; exit 0. When the socket does not
answer (no file, connection refused, not a CRI server, timeout) or the answer has no CRI config:
a message on stderr and exit 1.

Needs the PyPI packages container-runtime-interface-api (the generated `cri_api.v1` stubs) and
grpcio, as installed into the test venv by scripts/install-test-deps.
"""

import json
import sys

import grpc
from cri_api.v1 import api_pb2, api_pb2_grpc


def status(socket: str, timeout: float) -> dict:
    with grpc.insecure_channel("unix://" + socket) as channel:
        stub = api_pb2_grpc.RuntimeServiceStub(channel)
        reply = stub.Status(api_pb2.StatusRequest(verbose=True), timeout=timeout)
    config = json.loads(reply.info["config"])["containerd"]
    runtimes = {
        name: {
            "runtimeType": runtime.get("runtimeType"),
            "binary": (runtime.get("options") or {}).get("BinaryName"),
        }
        for name, runtime in (config.get("runtimes") or {}).items()
    }
    return {"runtimes": runtimes, "default": config.get("defaultRuntimeName")}


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print("usage: cri_status.py <socket> [timeout seconds]", file=sys.stderr)
        return 2
    socket = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) == 3 else 5.0
    try:
        result = status(socket, timeout)
    except grpc.RpcError as e:
        print(f"cri_status: {socket} does not answer: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    except (KeyError, ValueError, TypeError) as e:
        print(f"cri_status: {socket}: no CRI config in the status: {e!r}", file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
