"""sparkhub's local AWS: moto in server mode, plus what sparkhub's tests need.

Usage: python sparkhub_emulator.py [--host 127.0.0.1] [--port 0]

Prints `READY <port>` on stdout once it accepts requests (port 0 picks a free
port). On top of moto it:

- switches on moto's Amazon States Language interpreter, so state machines
  really run;
- round-trips the results of AWS SDK tasks through JSON (datetimes become ISO
  8601 strings, as in AWS): moto's interpreter otherwise keeps raw datetimes
  from e.g. describeCluster and the next DescribeExecution answers HTTP 500;
- records every request (`/moto-api/recorder/download-recording`), because
  moto accepts InstanceFleets and AutoTerminationPolicy but does not echo them;
- adds a control API, because EMR clusters and steps never change state by
  themselves in moto:

    POST /sparkhub-control/emr/cluster-state
         {"region": "...", "cluster_id": "j-...", "state": "TERMINATED", "reason": "..."}
    POST /sparkhub-control/emr/step-state
         {"region": "...", "cluster_id": "j-...", "step_id": "s-...", "state": "FAILED", "reason": "..."}

  A step that ends leaves its cluster WAITING when no other step is pending or
  running, as EMR does.
"""

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime, timezone

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

os.environ.setdefault("MOTO_ENABLE_RECORDING", "True")
os.environ.setdefault(
    "MOTO_RECORDER_FILEPATH",
    os.path.join(tempfile.mkdtemp(prefix="sparkhub-emulator-"), "recording.jsonl"),
)

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.core.config import default_user_config  # noqa: E402
from moto.emr.models import emr_backends  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    create_backend_app,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_aws_sdk as aws_sdk_task,
)

CONTROL_PREFIX = "/sparkhub-control/"
CLUSTER_STATES = {
    "STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING",
    "TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS",
}
STEP_STATES = {
    "PENDING", "CANCEL_PENDING", "RUNNING", "COMPLETED",
    "CANCELLED", "FAILED", "INTERRUPTED",
}
STEP_ENDED = {"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"}


def _json_default(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    return str(value)


def _patch_sdk_task_results():
    original = aws_sdk_task.StateTaskServiceAwsSdk._eval_service_task

    def eval_service_task(self, env, *args, **kwargs):
        original(self, env, *args, **kwargs)
        result = env.stack.pop()
        env.stack.append(json.loads(json.dumps(result, default=_json_default)))

    aws_sdk_task.StateTaskServiceAwsSdk._eval_service_task = eval_service_task


def _now():
    return datetime.now(timezone.utc)


def _cluster(body):
    region = body.get("region") or os.environ.get("AWS_REGION", "us-east-1")
    backend = emr_backends[DEFAULT_ACCOUNT_ID][region]
    cluster_id = body.get("cluster_id")
    if cluster_id not in backend.clusters:
        raise LookupError(f"no EMR cluster {cluster_id!r} in {region}")
    return backend.clusters[cluster_id]


def _set_cluster_state(body):
    state = body.get("state")
    if state not in CLUSTER_STATES:
        raise ValueError(f"state must be one of {sorted(CLUSTER_STATES)}, got {state!r}")
    cluster = _cluster(body)
    cluster.state = state
    if body.get("reason") is not None:
        cluster.last_state_change_reason = body["reason"]
    if state in ("TERMINATED", "TERMINATED_WITH_ERRORS"):
        cluster.end_datetime = _now()
    if state == "WAITING" and cluster.ready_datetime is None:
        cluster.ready_datetime = _now()
    return {"cluster_id": cluster.id, "state": cluster.state}


def _set_step_state(body):
    state = body.get("state")
    if state not in STEP_STATES:
        raise ValueError(f"state must be one of {sorted(STEP_STATES)}, got {state!r}")
    cluster = _cluster(body)
    steps = [s for s in cluster.steps if s.id == body.get("step_id")]
    if not steps:
        raise LookupError(f"no step {body.get('step_id')!r} on cluster {cluster.id}")
    step = steps[0]
    step.state = state
    if body.get("reason") is not None:
        step.last_state_change_reason = body["reason"]
    if state == "RUNNING" and step.start_date_time is None:
        step.start_date_time = _now()
    if state in STEP_ENDED:
        step.end_date_time = _now()
        busy = any(s.state in ("PENDING", "RUNNING") for s in cluster.steps)
        if not busy and cluster.state == "RUNNING":
            cluster.state = "WAITING"
    return {"cluster_id": cluster.id, "step_id": step.id, "state": step.state}


CONTROL_ROUTES = {
    "emr/cluster-state": _set_cluster_state,
    "emr/step-state": _set_step_state,
}


class SparkhubEmulator:
    """WSGI app: the control API under /sparkhub-control/, moto for the rest."""

    def __init__(self):
        self.moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CONTROL_PREFIX):
            return self.moto(environ, start_response)
        request = Request(environ)
        route = CONTROL_ROUTES.get(path[len(CONTROL_PREFIX):])
        if route is None or request.method != "POST":
            response = Response(
                json.dumps({"error": f"unknown control route {request.method} {path}"}),
                status=404, mimetype="application/json",
            )
            return response(environ, start_response)
        try:
            result = route(json.loads(request.get_data() or b"{}"))
            response = Response(json.dumps(result), mimetype="application/json")
        except (LookupError, ValueError) as error:
            response = Response(
                json.dumps({"error": str(error)}), status=400, mimetype="application/json"
            )
        return response(environ, start_response)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    default_user_config["stepfunctions"]["execute_state_machine"] = True
    _patch_sdk_task_results()

    server = make_server(args.host, args.port, SparkhubEmulator(), threaded=True)
    port = server.server_port
    # moto's interpreter calls the emulator itself at localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    print(f"READY {port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
