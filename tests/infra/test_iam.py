"""IAM simulation: every AWS call sparkhub makes is allowed by the stack's
policies, the listed abuses are refused, and the stack grants no action that
no call needs.

The calls come from the code (`tests/iam/inventory.json`, generated from
`shared/codegen/src/iam.rs` by `make generate` and compared by a Rust test). The
policies come from `infra/template.yaml` after the SAM transform, with the
AWS managed policies the stack attaches checked in under
`tests/iam/managed-policies/`. The evaluation is `@cloud-copilot/iam-simulate`
(npm, pinned in package-lock.json), run by `tests/iam/simulate.mjs`.

Two set-ups, as the README documents them: the default parameters
(`CreateEmrRoles=true`), and `CreateEmrRoles=false` with existing roles of the
same names, the service role carrying AmazonEMRServicePolicy_v2.

Run from the repository root: python -m unittest discover -s tests/infra -v
(`make check-infra` does).
"""

import copy
import json
import os
import subprocess
import unittest

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
STACK = "sparkhub"
MANAGED_POLICIES = os.path.join(ROOT, "tests", "iam", "managed-policies")
# The SAM translator asks a boto session for the region.
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)


class NoManagedPolicies:
    """The template names managed policies by ARN only; nothing to look up."""

    def load(self):
        return {}


def control_prefixes():
    """The sparkhub bucket's prefixes every node is denied writing, as the
    template's generated NoControlData statements name them."""
    with open(os.path.join(ROOT, "infra", "template.yaml")) as f:
        text = f.read()
    prefixes = set()
    for resource in decode_str(text)[0]["Resources"].values():
        doc = resource.get("Properties", {}).get("PolicyDocument", {})
        for s in doc.get("Statement", []):
            if isinstance(s, dict) and s.get("Sid") == "NoControlData":
                for r in s["Resource"]:
                    prefixes.add(r["Fn::Sub"].split("/", 1)[1].rstrip("*"))
    return sorted(prefixes)


def load_inventory():
    with open(os.path.join(ROOT, "tests", "iam", "inventory.json")) as f:
        return json.load(f)


def transformed_template():
    with open(os.path.join(ROOT, "infra", "template.yaml")) as f:
        template, problems = decode_str(f.read())
    assert not problems, problems
    template = json.loads(json.dumps(template))
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://artifacts/code.zip"
        if resource["Type"] == "AWS::Serverless::StateMachine":
            with open(os.path.join(ROOT, "infra", props.pop("DefinitionUri"))) as f:
                props["Definition"] = json.load(f)
    return transform(template, {"AWS::Region": REGION}, NoManagedPolicies())


class Resolver:
    """Resolves the intrinsic functions of a transformed template for one set
    of parameter values: the few the template uses (Ref, Fn::GetAtt, Fn::Sub,
    Fn::If, Fn::Join, conditions with Fn::Equals/Not/And/Or). Written here
    because no maintained Python package resolves CloudFormation intrinsics
    offline; it only feeds the evaluator, which is not ours."""

    def __init__(self, template, parameters, bucket):
        self.template = template
        self.params = {name: p.get("Default") for name, p in template.get("Parameters", {}).items()}
        self.params.update(parameters)
        self.bucket = bucket
        self.conditions = {}
        for name, expr in template.get("Conditions", {}).items():
            self.conditions[name] = self.condition(expr)

    def condition(self, expr):
        if isinstance(expr, dict) and "Condition" in expr:
            return self.conditions[expr["Condition"]]
        (fn, args), = expr.items()
        if fn == "Fn::Equals":
            a, b = (self.value(x) for x in args)
            return str(a) == str(b)
        if fn == "Fn::Not":
            return not self.condition(args[0])
        if fn == "Fn::And":
            return all(self.condition(a) for a in args)
        if fn == "Fn::Or":
            return any(self.condition(a) for a in args)
        raise ValueError(f"condition {fn}")

    def exists(self, logical):
        resource = self.template["Resources"].get(logical)
        return resource is not None and self.conditions.get(resource.get("Condition"), True)

    def ref(self, name):
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        resource = self.template["Resources"][name]
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if kind == "AWS::S3::Bucket":
            return self.bucket
        if kind == "AWS::IAM::Role":
            return self.value(props["RoleName"]) if "RoleName" in props else f"{STACK}-{name}-GENERATED"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-{name}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{self.getatt(name, 'Name')}"
        if kind == "AWS::EC2::SecurityGroup":
            return "sg-0example"
        return f"{STACK}-{name}"

    def getatt(self, name, attribute):
        kind = self.template["Resources"][name]["Type"]
        if attribute == "Name" and kind == "AWS::StepFunctions::StateMachine":
            return f"{STACK}-{name}"
        if attribute == "Arn":
            if kind == "AWS::S3::Bucket":
                return f"arn:aws:s3:::{self.bucket}"
            if kind == "AWS::IAM::Role":
                return f"arn:aws:iam::{ACCOUNT}:role/{self.ref(name)}"
            if kind == "AWS::Lambda::Function":
                return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{name}"
            if kind == "AWS::SQS::Queue":
                return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-{name}"
            if kind == "AWS::Logs::LogGroup":
                return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{STACK}-{name}:*"
            if kind == "AWS::Events::Rule":
                return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-{name}"
            if kind == "AWS::StepFunctions::StateMachine":
                return self.ref(name)
        raise ValueError(f"GetAtt {name}.{attribute} ({kind})")

    def sub(self, text, variables=None):
        out, i = "", 0
        while True:
            start = text.find("${", i)
            if start < 0:
                return out + text[i:]
            end = text.index("}", start)
            out += text[i:start]
            name = text[start + 2:end]
            if variables and name in variables:
                out += str(self.value(variables[name]))
            elif "." in name:
                out += str(self.getatt(*name.split(".", 1)))
            else:
                out += str(self.ref(name))
            i = end + 1

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(x) for x in node) if v is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(name, attribute)
            if key == "Fn::Sub":
                return self.sub(arg) if isinstance(arg, str) else self.sub(arg[0], arg[1])
            if key == "Fn::If":
                name, yes, no = arg
                return self.value(yes if self.conditions[name] else no)
            if key == "Fn::Join":
                return arg[0].join(str(x) for x in self.value(arg[1]))
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not None}


def managed_policy(arn):
    name = arn.rsplit("/", 1)[-1]
    path = os.path.join(MANAGED_POLICIES, f"{name}.json")
    if not os.path.exists(path):
        raise AssertionError(
            f"the stack attaches {arn}, whose text is not checked in: add {path} "
            "(the policy document with its version and date)"
        )
    with open(path) as f:
        return json.load(f)["Document"]


def principals(resolver, existing_roles):
    """Role name → its policies, and logical id → role name."""
    template = resolver.template
    roles, names = {}, {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role" or not resolver.exists(logical):
            continue
        props = resolver.value(resource["Properties"])
        name = resolver.ref(logical)
        names[logical] = name
        policies = roles.setdefault(name, [])
        for policy in props.get("Policies", []):
            policies.append({"name": policy["PolicyName"], "policy": policy["PolicyDocument"], "own": True})
        for arn in props.get("ManagedPolicyArns", []):
            policies.append({"name": arn, "policy": managed_policy(arn), "own": False})
    for name, arns in existing_roles.items():
        policies = roles.setdefault(name, [])
        for arn in arns:
            policies.append({"name": arn, "policy": managed_policy(arn), "own": False})
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy" or not resolver.exists(logical):
            continue
        props = resolver.value(resource["Properties"])
        for role in props["Roles"]:
            roles.setdefault(role, []).append(
                {"name": props["PolicyName"], "policy": props["PolicyDocument"], "own": True}
            )
    return roles, names


def fill(text, resolver):
    for key, value in {
        "${Account}": ACCOUNT,
        "${Region}": REGION,
        "${StateMachineArn}": resolver.ref("ClusterWorkflow"),
        "${StateMachineName}": resolver.getatt("ClusterWorkflow", "Name"),
        "${TopicArn}": resolver.ref("SparkhubTopic"),
        "${FailedInvocationsArn}": resolver.getatt("FailedInvocations", "Arn"),
        "${UndeliveredTriggersArn}": resolver.getatt("UndeliveredTriggers", "Arn"),
        "${CreateClusterFunctionArn}": resolver.getatt("CreateClusterFunction", "Arn"),
        "${CheckGroup}": resolver.ref("SweepChecks"),
        "${CheckRoleArn}": resolver.getatt("SweepCheckRole", "Arn"),
        "${TerminateIdleClustersFunctionArn}": resolver.getatt("TerminateIdleClustersFunction", "Arn"),
        "${EmrServiceRoleName}": resolver.params["EmrServiceRoleName"],
        "${EmrInstanceRolePrefix}": resolver.params["EmrInstanceRolePrefix"],
    }.items():
        text = text.replace(key, value)
    return text


def simulate(parameters, existing_roles, without=None, extra=None):
    """`without(role_name, statement)` true drops that statement of the
    stack's own policies first (to show a grant is needed); `extra` maps a
    role name to statements added to it (to show a Deny holds)."""
    inventory = load_inventory()
    resolver = Resolver(transformed_template(), parameters, inventory["bucket"])
    roles, names = principals(resolver, existing_roles)
    if without is not None:
        for name, policies in roles.items():
            for p in policies:
                if p["own"]:
                    statements = p["policy"]["Statement"]
                    statements = statements if isinstance(statements, list) else [statements]
                    p["policy"] = dict(p["policy"], Statement=[s for s in statements if not without(name, s)])
    for name, statements in (extra or {}).items():
        roles.setdefault(name, []).append(
            {"name": "extra", "policy": {"Version": "2012-10-17", "Statement": statements}, "own": False}
        )

    def principal(name):
        # Functions and the state machine by logical id (SAM names their
        # roles <id>Role); EMR's roles by name.
        return names.get(f"{name}Role") or names.get(name) or fill(name, resolver)

    requests, expected = [], {}
    for outcome in ("allowed", "denied"):
        for i, r in enumerate(inventory[outcome]):
            request = {
                "id": f"{outcome}-{i}",
                "principal": principal(r["principal"]),
                "action": r["action"],
                "resource": fill(r["resource"], resolver),
                "context": {
                    k: fill(v, resolver) if isinstance(v, str) else [fill(x, resolver) for x in v]
                    for k, v in r["context"].items()
                },
                "why": r["why"],
                "as_written": r["principal"],
            }
            requests.append(request)
            expected[request["id"]] = outcome
    answer = subprocess.run(
        ["node", os.path.join(ROOT, "tests", "iam", "simulate.mjs")],
        input=json.dumps({
            "principals": roles,
            "requests": requests,
            "must_allow": [r["id"] for r in requests if expected[r["id"]] == "allowed"],
        }),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return requests, expected, json.loads(answer.stdout), roles


def describe(request, result):
    return (
        f"{result}: {request['as_written']} ({request['principal']}) {request['action']} "
        f"on {request['resource']} {json.dumps(request['context'])} — {request['why']}"
    )


class IamSimulation:
    parameters = {}
    existing_roles = {}

    @classmethod
    def setUpClass(cls):
        cls.requests, cls.expected, cls.answer, cls.roles = simulate(cls.parameters, cls.existing_roles)

    def test_every_call_sparkhub_makes_is_allowed(self):
        refused = [
            describe(r, self.answer["results"][r["id"]])
            for r in self.requests
            if self.expected[r["id"]] == "allowed" and self.answer["results"][r["id"]] != "Allowed"
        ]
        self.assertFalse(refused, "\n" + "\n".join(refused))

    def test_every_listed_abuse_is_denied(self):
        allowed = [
            describe(r, self.answer["results"][r["id"]])
            for r in self.requests
            if self.expected[r["id"]] == "denied" and self.answer["results"][r["id"]] != "ImplicitlyDenied"
            and self.answer["results"][r["id"]] != "ExplicitlyDenied"
        ]
        self.assertFalse(allowed, "\n" + "\n".join(allowed))

    def test_the_stack_grants_no_action_no_call_needs(self):
        unneeded = [
            f"{u['principal']}: policy {u['policy']}, statement {u['statement']}, action {u['action']}"
            for u in self.answer["unneeded"]
        ]
        self.assertFalse(unneeded, "granted but used by no call of the inventory:\n" + "\n".join(unneeded))

    def test_every_principal_of_the_inventory_has_policies(self):
        missing = sorted({r["principal"] for r in self.requests if r["principal"] not in self.roles})
        self.assertFalse(missing, f"no role of these names in the stack: {missing}")


def grants(statement, action):
    actions = statement.get("Action", [])
    return action in (actions if isinstance(actions, list) else [actions])


class ImpliedAuthorizationsAreNeeded(unittest.TestCase):
    """The authorizations AWS makes beside RunJobFlow (shared/codegen/src/implied.rs)
    are in the inventory: without the grant for one of them, the first
    cluster of a fresh account is refused."""

    def refused_without(self, action):
        requests, expected, answer, _ = simulate(
            {}, {}, without=lambda role, s: role.startswith(STACK + "-ClusterWorkflowRole") and grants(s, action)
        )
        return [
            r for r in requests
            if expected[r["id"]] == "allowed" and answer["results"][r["id"]] != "Allowed"
        ]

    def test_runjobflow_with_tags_fails_without_addtags(self):
        refused = self.refused_without("elasticmapreduce:AddTags")
        self.assertTrue(refused)
        self.assertEqual({r["action"] for r in refused}, {"elasticmapreduce:AddTags"})
        self.assertTrue(all("RunJobFlow with Tags" in r["why"] for r in refused), refused)

    def test_the_first_cluster_fails_without_the_service_linked_role(self):
        refused = self.refused_without("iam:CreateServiceLinkedRole")
        self.assertEqual({r["action"] for r in refused}, {"iam:CreateServiceLinkedRole"})


class NodesCannotWriteControlData(unittest.TestCase):
    """A profile whose log_uri (or [access] write location) is the sparkhub
    bucket's root gets a grant on the whole bucket; the explicit Deny of
    every node policy still keeps its nodes (and so every notebook user on
    them) away from profiles/, scripts/, locks/ and history/."""

    def test_a_log_uri_at_the_bucket_root_does_not_reach_the_control_prefixes(self):
        bucket = load_inventory()["bucket"]
        nodes = ["sparkhub-node-tutorial", "sparkhub-node-retrain"]
        grant = {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": f"arn:aws:s3:::{bucket}/*"}
        requests, expected, answer, _ = simulate({}, {}, extra={node: [grant] for node in nodes})
        for node in nodes:
            control = [
                r for r in requests
                if r["principal"] == node and expected[r["id"]] == "denied"
                and r["action"] in ("s3:PutObject", "s3:DeleteObject")
                and any(f"/{p}" in r["resource"] for p in control_prefixes())
            ]
            # Put and delete of each prefix the template denies nodes.
            self.assertEqual(len(control), 2 * len(control_prefixes()), control)
            self.assertIn("budgets/", control_prefixes())
            for r in control:
                self.assertEqual(answer["results"][r["id"]], "ExplicitlyDenied", describe(r, answer["results"][r["id"]]))
            # The grant itself reaches what no statement of the stack allows
            # this node (another profile's logs): the Deny is what holds.
            other = [r for r in requests if r["principal"] == node and r["action"] == "s3:PutObject"
                     and expected[r["id"]] == "denied" and "/logs/" in r["resource"]]
            self.assertTrue(other, node)
            self.assertTrue(all(answer["results"][r["id"]] == "Allowed" for r in other), node)


class DefaultParameters(IamSimulation, unittest.TestCase):
    """`sam deploy` with the defaults: the stack creates the EMR roles."""


class ExistingEmrRoles(IamSimulation, unittest.TestCase):
    """`CreateEmrRoles=false`: roles of the same names exist; the service role
    has AmazonEMRServicePolicy_v2 (the README says so); the stack attaches its
    policies to them."""

    parameters = {"CreateEmrRoles": "false"}
    existing_roles = {
        "sparkhub-emr-service": ["arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"],
    }


if __name__ == "__main__":
    unittest.main(verbosity=2)
