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
- bridges CloudWatch's RPCv2 CBOR protocol (what the Rust SDK speaks) to
  moto's JSON protocol: decode the CBOR request, call moto as a JSON client
  would, encode the answer as CBOR (timestamps as CBOR tag 1);
- answers GetMetricData for metric queries from an index instead of moto's
  scan of every datapoint for every period of every query, which takes
  minutes for a thousand clusters;
- makes S3 conditional writes (`If-None-Match: *`, `If-Match`) atomic:
  moto checks the condition and stores the object in separate steps, so two
  concurrent requests could both pass the check (AWS never lets them);
- answers the Price List's GetProducts (moto has no Price List) from the
  documented-format answers in `tests/fixtures/pricing/`: the entries whose
  attributes match every TERM_MATCH filter, none for anything else (the
  adapter then falls back to sparkhub's offline table, as against AWS);
- gives a cluster ended by TerminateJobFlows EMR's state-change reason code
  USER_REQUEST (moto gives none);
- adds a control API, because EMR clusters and steps never change state by
  themselves in moto:

    POST /sparkhub-control/emr/cluster-state
         {"region": "...", "cluster_id": "j-...", "state": "TERMINATED", "reason": "..."}
         ("omit_reason": true makes DescribeCluster answer without a
         StateChangeReason, as EMR may)
    POST /sparkhub-control/emr/step-state
         {"region": "...", "cluster_id": "j-...", "step_id": "s-...", "state": "FAILED", "reason": "..."}
    POST /sparkhub-control/emr/cluster-times
         {"region": "...", "cluster_id": "j-...", "created_at": "<ISO 8601>", "ready_at": "<ISO 8601>",
          "normalized_instance_hours": 72}
         (each key optional; NormalizedInstanceHours is what EMR counts up
         while a cluster runs: moto leaves it at 0)

    POST /sparkhub-control/emr/fail-next
         {"operation": "RunJobFlow", "match": "<text>", "code": "ThrottlingException",
          "status": 400, "times": 1}
         (the next `times` EMR requests of that operation whose body contains
         `match` are answered with that error instead of reaching moto:
         throttling and server errors for the workflow's retries; `match`
         keeps one test's fault away from the others' requests)

  A step that ends leaves its cluster WAITING when no other step is pending or
  running, as EMR does.
- names the errors of the interpreter's EMR SDK tasks as Step Functions does
  (`Emr.<Exception>`, `Emr.EmrException` for one the SDK does not model,
  https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html);
  moto writes `emr.…`;
- applies a CloudFormation state machine's `DefinitionSubstitutions` (and
  reads an inline `Definition`), as CloudFormation does, and puts the machine
  where the Step Functions API finds it (moto keeps CloudFormation's state
  machines out of its interpreter's store).
"""

import argparse
import gzip
import io
import json
import os
import sys
import tempfile
import threading
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import botocore.session
import cbor2

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

os.environ.setdefault("MOTO_ENABLE_RECORDING", "True")
# with-emulator names a file in its own directory (removed with it); run alone,
# the emulator makes one.
if "MOTO_RECORDER_FILEPATH" not in os.environ:
    os.environ["MOTO_RECORDER_FILEPATH"] = os.path.join(
        tempfile.mkdtemp(prefix="sparkhub-emulator-"), "recording.jsonl"
    )

from moto.cloudwatch import models as cloudwatch_models  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.core.config import default_user_config  # noqa: E402
from moto.emr.models import Cluster as EmrCluster, emr_backends  # noqa: E402
from moto.s3.responses import S3Response  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    create_backend_app,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_aws_sdk as aws_sdk_task,
)
from moto.stepfunctions.models import StateMachine as SfnStateMachine  # noqa: E402
from moto.stepfunctions.parser.models import stepfunctions_parser_backends  # noqa: E402

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
    cluster.sparkhub_omit_reason = bool(body.get("omit_reason"))
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


def _parse_time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _set_cluster_times(body):
    cluster = _cluster(body)
    if body.get("created_at"):
        cluster.creation_datetime = _parse_time(body["created_at"]).replace(tzinfo=None)
    if body.get("ready_at"):
        cluster.ready_datetime = _parse_time(body["ready_at"]).replace(tzinfo=None)
    if body.get("normalized_instance_hours") is not None:
        cluster.normalized_instance_hours = int(body["normalized_instance_hours"])
    return {"cluster_id": cluster.id}


def _patch_cluster_status():
    original = EmrCluster.status

    def status(self):
        answer = original.fget(self)
        if getattr(self, "sparkhub_omit_reason", False):
            answer.pop("StateChangeReason", None)
        elif getattr(self, "sparkhub_reason_code", None):
            answer.setdefault("StateChangeReason", {})["Code"] = self.sparkhub_reason_code
        return answer

    EmrCluster.status = property(status)

    # moto gives a terminated cluster no reason code; EMR says USER_REQUEST
    # for TerminateJobFlows (the codes:
    # https://docs.aws.amazon.com/emr/latest/APIReference/API_ClusterStateChangeReason.html).
    original_terminate = EmrCluster.terminate

    def terminate(self):
        original_terminate(self)
        self.sparkhub_reason_code = "USER_REQUEST"

    EmrCluster.terminate = terminate


_S3_WRITES = threading.Lock()


def _patch_conditional_writes():
    for name in ("put_object", "delete_object"):
        original = getattr(S3Response, name)

        def locked(self, *args, _original=original, **kwargs):
            with _S3_WRITES:
                return _original(self, *args, **kwargs)

        setattr(S3Response, name, locked)


_FAULTS = []
_FAULTS_LOCK = threading.Lock()


def _fail_next(body):
    operation = body.get("operation")
    if not operation or not body.get("match"):
        raise ValueError("operation (e.g. RunJobFlow) and match (text of the request body) are required")
    fault = {
        "target": f"ElasticMapReduce.{operation}",
        "match": body["match"],
        "code": body.get("code", "ThrottlingException"),
        "status": int(body.get("status", 400)),
        "times": int(body.get("times", 1)),
    }
    with _FAULTS_LOCK:
        _FAULTS.append(fault)
    return fault


def _injected_fault(environ):
    """The error answer for this request when a fault is pending for it."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    with _FAULTS_LOCK:
        if not any(f["target"] == target and f["times"] > 0 for f in _FAULTS):
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        text = body.decode("utf-8", "replace")
        fault = next(
            (f for f in _FAULTS if f["target"] == target and f["times"] > 0 and f["match"] in text),
            None,
        )
        if fault is None:
            return None
        fault["times"] -= 1
    answer = json.dumps({"__type": fault["code"], "message": f"sparkhub emulator: injected {fault['code']}"})
    return Response(
        answer,
        status=fault["status"],
        mimetype="application/x-amz-json-1.1",
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


def _patch_sdk_error_names():
    aws_sdk_task._SERVICE_ERROR_NAMES["emr"] = "Emr"


def _patch_cfn_state_machine_definition():
    original = SfnStateMachine.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        text = properties.get("DefinitionString")
        if text is None and "Definition" in properties:
            text = json.dumps(properties["Definition"])
        if text is not None:
            for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
                text = text.replace("${" + key + "}", str(value))
            properties = dict(properties, DefinitionString=text)
            cloudformation_json = dict(cloudformation_json, Properties=properties)
        machine = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        # The API (and the interpreter) answer from the parser's store.
        parser = stepfunctions_parser_backends[account_id][region_name]
        if not any(m.arn == machine.arn for m in parser.state_machines):
            parser.state_machines.append(machine)
        return machine

    SfnStateMachine.create_from_cloudformation_json = classmethod(create)


CONTROL_ROUTES = {
    "emr/fail-next": _fail_next,
    "emr/cluster-state": _set_cluster_state,
    "emr/step-state": _set_step_state,
    "emr/cluster-times": _set_cluster_times,
}


# --- GetMetricData from an index -------------------------------------------

_STATS = {
    "Minimum": min,
    "Maximum": max,
    "Sum": sum,
    "SampleCount": len,
    "Average": lambda values: sum(values) / len(values),
}


def _patch_get_metric_data():
    original = cloudwatch_models.CloudWatchBackend.get_metric_data

    def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
        simple = all(
            "MetricStat" in q and q["MetricStat"].get("Stat") in _STATS and not q["MetricStat"].get("Unit")
            for q in queries
        )
        data = self.get_all_metrics()
        if not simple or any(not hasattr(md, "value") for md in data):
            return original(self, queries, start_time, end_time, scan_by)
        start_time = start_time.replace(microsecond=0)
        end_time = end_time.replace(microsecond=0)
        if start_time >= end_time:
            return original(self, queries, start_time, end_time, scan_by)
        index = defaultdict(list)
        for md in data:
            if start_time <= md.timestamp < end_time:
                dims = frozenset((d.name, d.value) for d in md.dimensions)
                index[(md.namespace, md.name, dims)].append(md)
        results = []
        for query in queries:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            delta = timedelta(seconds=int(stat["Period"]))
            dims = frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
            buckets = defaultdict(list)
            for md in index.get((metric["Namespace"], metric["MetricName"], dims), []):
                buckets[(md.timestamp - start_time) // delta].append(float(md.value))
            ordered = sorted(buckets)
            if scan_by == "TimestampDescending":
                ordered.reverse()
            label = query.get("Label") or f"{metric['MetricName']} {stat['Stat']}"
            if query.get("ReturnData", True):
                results.append(
                    {
                        "id": query["Id"],
                        "label": label,
                        "values": [_STATS[stat["Stat"]](buckets[b]) for b in ordered],
                        "timestamps": [start_time + b * delta for b in ordered],
                        "status_code": "Complete",
                    }
                )
        return results

    cloudwatch_models.CloudWatchBackend.get_metric_data = get_metric_data


# --- CloudWatch RPCv2 CBOR <-> JSON ----------------------------------------

CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
_cloudwatch_model = botocore.session.get_session().get_service_model("cloudwatch")


def _json_ready(value):
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode()
    return value


def _cbor_ready(value, shape):
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "timestamp":
        if isinstance(value, str):
            value = _parse_time(value).timestamp()
        return cbor2.CBORTag(1, float(value))
    if kind == "structure" and isinstance(value, dict):
        return {k: _cbor_ready(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_cbor_ready(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _cbor_ready(v, shape.value) for k, v in value.items()}
    return value


def _bridge_cbor(moto_app, environ, start_response):
    operation = environ["PATH_INFO"][len(CBOR_PREFIX):]
    # Request.get_data reads the whole body (a single read() may return less).
    raw = Request(environ).get_data()
    # PutMetricData bodies over 10 KiB arrive gzipped (request compression).
    if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
        raw = gzip.decompress(raw)
    request = cbor2.loads(raw) if raw else {}
    body = json.dumps(_json_ready(request)).encode()
    inner = dict(environ)
    inner.update(
        {
            "PATH_INFO": "/",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_AMZ_TARGET": f"GraniteServiceVersion20100801.{operation}",
            "wsgi.input": io.BytesIO(body),
        }
    )
    inner.pop("HTTP_SMITHY_PROTOCOL", None)
    inner.pop("HTTP_CONTENT_ENCODING", None)
    captured = {}

    def capture(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers

    answer = b"".join(moto_app(inner, capture))
    status = captured.get("status", "500 Internal Server Error")
    data = json.loads(answer) if answer.strip() else {}
    if status.startswith("2"):
        output = _cloudwatch_model.operation_model(operation).output_shape
        data = _cbor_ready(data, output)
    else:
        error = data.get("__type") or data.get("Error", {}).get("Code") or "InternalFailure"
        data = {"__type": error.split("#")[-1], "message": data.get("message") or data.get("Message") or ""}
    payload = cbor2.dumps(data)
    start_response(
        status,
        [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(payload))),
        ],
    )
    return [payload]


PRICE_LIST_FIXTURES = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pricing"
)


def _price_list(environ, start_response):
    """GetProducts over the fixtures' PriceList entries (awsJson1_1)."""
    request = json.loads(Request(environ).get_data() or b"{}")
    filters = [
        (f.get("Field"), f.get("Value"))
        for f in request.get("Filters", [])
        if f.get("Type") == "TERM_MATCH"
    ]
    matching = []
    for name in sorted(os.listdir(PRICE_LIST_FIXTURES)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(PRICE_LIST_FIXTURES, name)) as f:
            entries = json.load(f)["PriceList"]
        for entry in entries:
            doc = json.loads(entry)
            if doc.get("serviceCode") != request.get("ServiceCode"):
                continue
            product = doc.get("product", {})
            fields = dict(product.get("attributes", {}))
            fields["productFamily"] = product.get("productFamily")
            if all(fields.get(field) == value for field, value in filters):
                matching.append(entry)
    payload = json.dumps({"FormatVersion": "aws_v1", "PriceList": matching}).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


class SparkhubEmulator:
    """WSGI app: the control API under /sparkhub-control/, moto for the rest."""

    def __init__(self):
        self.moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CBOR_PREFIX):
            return _bridge_cbor(self.moto, environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET") == "AWSPriceListService.GetProducts":
            return _price_list(environ, start_response)
        if not path.startswith(CONTROL_PREFIX):
            fault = _injected_fault(environ)
            if fault is not None:
                return fault(environ, start_response)
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
    _patch_get_metric_data()
    _patch_cluster_status()
    _patch_conditional_writes()
    _patch_sdk_error_names()
    _patch_cfn_state_machine_definition()

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
