"""Checks of infra/template.yaml against the code it deploys.

Run from the repository root: python -m unittest discover -s tests/infra -v
(`make check-infra` does, with cfn-lint and checkov).
"""

import glob
import json
import os
import re
import tomllib
import unittest

from cfnlint.decode import decode_str

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE_PATH = os.path.join(ROOT, "infra", "template.yaml")

# Actions that have no resource-level permissions, so "*" is their only resource.
STAR_RESOURCE_ALLOWED = {
    "elasticmapreduce:RunJobFlow",
    "elasticmapreduce:ListClusters",
    "cloudwatch:GetMetricData",
    "cloudwatch:PutMetricData",
    # The Price List names no resource (Billing User Guide, "Using the AWS
    # Price List Bulk API": its policy grants pricing:* on "*").
    "pricing:GetProducts",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # Session Manager's message channels have no resource-level permissions
    # (Service Authorization Reference, Amazon Message Gateway Service).
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


def load_template():
    with open(TEMPLATE_PATH) as f:
        template, problems = decode_str(f.read())
    assert not problems, problems
    return template


def functions(template):
    return {
        name: res
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }


def statements(resource):
    props = resource.get("Properties", {})
    policies = props.get("Policies", [])
    if "PolicyDocument" in props:
        policies = [props["PolicyDocument"]]
    for policy in policies:
        document = policy.get("PolicyDocument", policy) if isinstance(policy, dict) else {}
        for statement in document.get("Statement", []):
            yield statement


def as_list(value):
    return value if isinstance(value, list) else [value]


def env_vars_read_by(package_dir):
    """The SPARKHUB_ variables named by a function's sources: its main and
    the core use case whose Config it reads (`sparkhub_core::<case>::Config`)."""
    names = set()
    sources = glob.glob(os.path.join(package_dir, "src", "**", "*.rs"), recursive=True)
    for path in list(sources):
        with open(path) as f:
            for case in re.findall(r"sparkhub_core::(\w+)::Config", f.read()):
                sources += glob.glob(os.path.join(ROOT, "shared", "core", "src", case, "**", "*.rs"), recursive=True)
    for path in sources:
        if path.endswith("_tests.rs"):
            continue
        with open(path) as f:
            names.update(re.findall(r'"(SPARKHUB_[A-Z_]+)"', f.read()))
    return names


class TemplateMatchesCode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load_template()
        with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
            cls.members = set(tomllib.load(f)["workspace"]["members"])

    def test_the_dashboard_shows_only_metrics_the_code_emits(self):
        dashboard = self.template["Resources"]["Dashboard"]
        self.assertEqual(dashboard["Type"], "AWS::CloudWatch::Dashboard")
        body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
        widgets = json.loads(body.replace("${AWS::Region}", "us-east-1"))["widgets"]
        titles = [w["properties"]["title"] for w in widgets]
        for wanted in ["Active clusters by profile", "Terminations by reason", "Warnings",
                       "Busy clusters", "Sweep errors", "Sweep duration", "Startup"]:
            self.assertTrue(any(t.startswith(wanted) for t in titles), (wanted, titles))
        named = set()
        for w in widgets:
            for row in w["properties"]["metrics"]:
                if isinstance(row[0], dict):
                    named.update(re.findall(r'MetricName="(\w+)"', row[0]["expression"]))
                else:
                    self.assertEqual(row[0], "Sparkhub", row)
                    named.add(row[1])
        sources = ""
        for path in [os.path.join(ROOT, "shared", "core", "src", "sweep", "terminator.rs"),
                     os.path.join(ROOT, "shared", "core", "src", "scripts", "notebook-activity-reporter.sh"),
                     os.path.join(ROOT, "shared", "core", "src", "startup.rs")]:
            with open(path) as f:
                sources += f.read()
        for metric in named:
            self.assertIn(f'"{metric}"' if metric != "Busy" else "--metric-name Busy", sources,
                          f"the dashboard shows {metric}, which no function emits")
        self.assertEqual(
            named,
            {"ActiveClusters", "Terminations", "WarningsSent", "Busy",
             "SweepErrors", "HistoryWriteFailures", "SweepDuration", "StartupSeconds"},
        )

    def test_every_code_uri_is_a_workspace_member(self):
        fns = functions(self.template)
        self.assertEqual(len(fns), 3)
        for name, fn in fns.items():
            code_uri = os.path.normpath(os.path.join("infra", fn["Properties"]["CodeUri"]))
            self.assertIn(code_uri, self.members, name)
            binary = fn["Metadata"]["BuildProperties"]["Binary"]
            self.assertEqual(os.path.basename(code_uri), binary, f"{name}: the binary is the package")

    def test_every_environment_variable_a_function_reads_is_set(self):
        for name, fn in functions(self.template).items():
            package = os.path.join(ROOT, os.path.normpath(os.path.join("infra", fn["Properties"]["CodeUri"])))
            read = env_vars_read_by(package)
            self.assertTrue(read, f"{name}: found no SPARKHUB_ variable in the code")
            variables = set(fn["Properties"].get("Environment", {}).get("Variables", {}))
            self.assertFalse(read - variables, f"{name} reads {sorted(read - variables)} but the template does not set them")

    def test_the_state_machine_may_call_every_sdk_action_of_its_definition(self):
        machine = self.template["Resources"]["ClusterWorkflow"]
        allowed = {a for s in statements(machine) if s["Effect"] == "Allow" for a in as_list(s["Action"])}
        path = os.path.join(ROOT, "infra", machine["Properties"]["DefinitionUri"])
        with open(path) as f:
            definition = f.read()
        needed = set()
        for service, api in re.findall(r'"arn:\$\{Partition\}:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)"', definition):
            prefix = {"emr": "elasticmapreduce"}.get(service, service)
            needed.add(f"{prefix}:{api[0].upper()}{api[1:]}")
        for service, api in re.findall(r'"arn:\$\{Partition\}:states:::([a-z0-9]+):([A-Za-z0-9]+)"', definition):
            needed.add(f"{service}:{api[0].upper()}{api[1:]}")
        self.assertIn("elasticmapreduce:RunJobFlow", needed)
        self.assertFalse(needed - allowed, f"the state machine role lacks {sorted(needed - allowed)}")

    def test_the_definition_names_the_stacks_partition(self):
        machine = self.template["Resources"]["ClusterWorkflow"]
        path = os.path.join(ROOT, "infra", machine["Properties"]["DefinitionUri"])
        with open(path) as f:
            definition = f.read()
        self.assertNotIn("arn:aws:", definition, "a literal partition fails in aws-cn and aws-us-gov")
        self.assertIn("arn:${Partition}:states:::aws-sdk:emr:runJobFlow", definition)
        variables = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition))
        self.assertEqual(variables, set(machine["Properties"]["DefinitionSubstitutions"]))
        self.assertEqual(machine["Properties"]["DefinitionSubstitutions"]["Partition"], {"Ref": "AWS::Partition"})

    def test_pass_role_is_scoped_to_the_emr_roles(self):
        machine = self.template["Resources"]["ClusterWorkflow"]
        for s in statements(machine):
            if "iam:PassRole" in as_list(s["Action"]):
                for resource in as_list(s["Resource"]):
                    text = json.dumps(resource)
                    self.assertTrue("${EmrServiceRoleName}" in text or "${EmrInstanceRolePrefix}-" in text, text)

    def test_no_wildcard_actions_and_star_resources_only_where_unavoidable(self):
        for name, resource in self.template["Resources"].items():
            for s in statements(resource):
                actions = as_list(s.get("Action", []))
                if s.get("Effect") == "Allow":
                    for action in actions:
                        self.assertNotIn("*", action, f"{name}: wildcard action {action}")
                if s.get("Effect") == "Allow" and "*" in as_list(s.get("Resource", [])):
                    self.assertFalse(set(actions) - STAR_RESOURCE_ALLOWED, f"{name}: Resource * for {actions}")

    def test_terminations_and_steps_only_for_managed_clusters(self):
        for name, resource in self.template["Resources"].items():
            for s in statements(resource):
                actions = set(as_list(s.get("Action", [])))
                if actions & {"elasticmapreduce:TerminateJobFlows", "elasticmapreduce:AddJobFlowSteps"}:
                    condition = s.get("Condition", {}).get("StringEquals", {})
                    self.assertEqual(condition.get("elasticmapreduce:ResourceTag/sparkhub:managed"), "true", name)

    def test_ssh_is_closed_unless_a_range_is_given(self):
        parameter = self.template["Parameters"]["SshIngressCidr"]
        self.assertEqual(parameter["Default"], "")
        group = self.template["Resources"]["MasterSshSecurityGroup"]
        self.assertEqual(group["Condition"], "HasSshIngress")
        for rule in group["Properties"]["SecurityGroupIngress"]:
            self.assertEqual(rule["CidrIp"], {"Ref": "SshIngressCidr"})

    def test_the_bucket_is_private_encrypted_versioned_and_tls_only(self):
        bucket = self.template["Resources"]["SparkhubBucket"]["Properties"]
        self.assertTrue(all(bucket["PublicAccessBlockConfiguration"].values()))
        self.assertEqual(bucket["VersioningConfiguration"]["Status"], "Enabled")
        self.assertIn("ServerSideEncryptionConfiguration", bucket["BucketEncryption"])
        policy = self.template["Resources"]["SparkhubBucketPolicy"]["Properties"]["PolicyDocument"]
        deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        self.assertEqual(deny[0]["Condition"]["Bool"]["aws:SecureTransport"], "false")

    def test_functions_are_arm64_json_logging_with_an_on_failure_destination(self):
        globals_ = self.template["Globals"]["Function"]
        self.assertEqual(globals_["Architectures"], ["arm64"])
        self.assertEqual(globals_["Runtime"], "provided.al2023")
        self.assertEqual(globals_["LoggingConfig"]["LogFormat"], "JSON")
        self.assertIn("OnFailure", globals_["EventInvokeConfig"]["DestinationConfig"])
        for name, fn in functions(self.template).items():
            self.assertEqual(fn["Metadata"]["BuildMethod"], "rust-cargolambda", name)

    def test_the_wiring(self):
        setup = self.template["Resources"]["SetupJupyterUsersFunction"]["Properties"]["Events"]["ClusterWaiting"]
        self.assertEqual(setup["Properties"]["Pattern"]["detail"]["state"], ["WAITING"])
        sweep = self.template["Resources"]["TerminateIdleClustersFunction"]["Properties"]["Events"]["EveryFiveMinutes"]
        self.assertEqual(sweep["Properties"]["Schedule"], "rate(5 minutes)")
        rule = self.template["Resources"]["ObjectCreatedRule"]["Properties"]["EventPattern"]
        self.assertEqual(rule["detail-type"], ["Object Created"])
        schedule = self.template["Resources"]["ScheduleTutorial"]["Properties"]
        self.assertEqual(schedule["ScheduleExpressionTimezone"], "Europe/Berlin")
        self.assertEqual(json.loads(schedule["Target"]["Input"])["profile"], "tutorial")

    def test_samconfig_grants_the_capabilities_the_template_needs(self):
        # Fixed IAM names need CAPABILITY_NAMED_IAM; `sam deploy --guided`
        # offers only CAPABILITY_IAM, so the shipped samconfig.toml says it.
        with open(os.path.join(ROOT, "samconfig.toml"), "rb") as f:
            config = tomllib.load(f)
        deploy = config["default"]["deploy"]["parameters"]
        capabilities = deploy["capabilities"].split()
        named = [
            name for name, res in self.template["Resources"].items()
            if {"RoleName", "InstanceProfileName", "ManagedPolicyName"} & set(res.get("Properties", {}))
        ]
        self.assertTrue(named, "the stack names its EMR roles")
        self.assertIn("CAPABILITY_NAMED_IAM", capabilities, f"named IAM resources: {named}")
        self.assertIn("CAPABILITY_IAM", capabilities)
        self.assertEqual(config["default"]["build"]["parameters"]["template_file"], "infra/template.yaml")

    def test_every_security_group_is_tagged_for_the_emr_v2_policy(self):
        for name, res in self.template["Resources"].items():
            if res["Type"] == "AWS::EC2::SecurityGroup":
                tags = {t["Key"]: t["Value"] for t in res["Properties"].get("Tags", [])}
                self.assertEqual(tags.get("for-use-with-amazon-emr-managed-policies"), "true", name)


if __name__ == "__main__":
    unittest.main()
