"""Smoke test: infra/template.yaml, transformed by the SAM translator, deploys
into the local emulator's CloudFormation (for the resource types it knows).

Needs the emulator: run through tests/emulator/with-emulator (make test does).
The functions get a placeholder zip: what is checked is the stack, not the code.
moto ignores some properties (bucket versioning and public access block,
function architectures) and
keeps state machines made by CloudFormation away from its ASL interpreter's
store; those properties are checked statically in test_template.py.
"""

import io
import json
import os
import time
import unittest
import zipfile

import boto3
from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION = os.environ.get("AWS_REGION", "us-east-1")


class NoManagedPolicies:
    """The template names managed policies by ARN only; nothing to look up."""

    def load(self):
        return {}


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION)


class TemplateDeploysIntoTheEmulator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "infra", "template.yaml")) as f:
            template, problems = decode_str(f.read())
        assert not problems, problems
        template = json.loads(json.dumps(template))

        artifacts = f"sparkhub-artifacts-{int(time.time() * 1000)}"
        s3 = client("s3")
        s3.create_bucket(Bucket=artifacts)
        placeholder = io.BytesIO()
        with zipfile.ZipFile(placeholder, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        for name, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Serverless::Function":
                s3.put_object(Bucket=artifacts, Key=f"{name}.zip", Body=placeholder.getvalue())
                props["CodeUri"] = f"s3://{artifacts}/{name}.zip"
            if resource["Type"] == "AWS::Serverless::StateMachine":
                with open(os.path.join(ROOT, "infra", props.pop("DefinitionUri"))) as f:
                    cls.definition = json.load(f)
                props["Definition"] = cls.definition

        cls.transformed = transform(template, {"AWS::Region": REGION}, NoManagedPolicies())
        cls.stack = f"sparkhub-smoke-{int(time.time() * 1000)}"
        cfn = client("cloudformation")
        cfn.create_stack(
            StackName=cls.stack,
            TemplateBody=json.dumps(cls.transformed),
            Parameters=[{"ParameterKey": "TriggerBucketName", "ParameterValue": "training-data-example"}],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        for _ in range(60):
            cls.status = cfn.describe_stacks(StackName=cls.stack)["Stacks"][0]
            if not cls.status["StackStatus"].endswith("IN_PROGRESS"):
                break
            time.sleep(0.5)
        cls.outputs = {o["OutputKey"]: o["OutputValue"] for o in cls.status.get("Outputs", [])}
        cls.resources = {
            r["LogicalResourceId"]: r
            for r in cfn.list_stack_resources(StackName=cls.stack)["StackResourceSummaries"]
        }

    def test_the_stack_is_created(self):
        self.assertEqual(self.status["StackStatus"], "CREATE_COMPLETE", self.status.get("StackStatusReason"))

    def test_every_resource_is_created(self):
        failed = {k: r["ResourceStatus"] for k, r in self.resources.items() if r["ResourceStatus"] != "CREATE_COMPLETE"}
        self.assertFalse(failed)
        for logical in ("SparkhubBucket", "ClusterWorkflow", "SparkhubTopic", "FailedInvocations", "SchedulerRole", "NodeInstanceProfileTutorial", "NodePolicyTutorial", "EmrServicePassNodeRoles", "ObjectCreatedRule"):
            self.assertIn(logical, self.resources)
        self.assertNotIn("MasterSshSecurityGroup", self.resources, "no SSH rule without SshIngressCidr")

    def test_the_bucket_exists(self):
        # Public access block, encryption and versioning: moto ignores them
        # in CloudFormation; test_template.py checks them.
        client("s3").head_bucket(Bucket=self.outputs["BucketName"])

    def test_the_functions_have_their_configuration(self):
        lam = client("lambda")
        name = self.resources["CreateClusterFunction"]["PhysicalResourceId"]
        config = lam.get_function_configuration(FunctionName=name)
        self.assertEqual(config["Runtime"], "provided.al2023")
        variables = config["Environment"]["Variables"]
        self.assertEqual(variables["SPARKHUB_BUCKET"], self.outputs["BucketName"])
        self.assertEqual(variables["SPARKHUB_STATE_MACHINE_ARN"], self.outputs["StateMachineArn"])
        for logical in ("SetupJupyterUsersFunction", "TerminateIdleClustersFunction"):
            self.assertIn(logical, self.resources)

    def test_the_rules_are_wired(self):
        events = client("events")
        rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
        patterns = [json.loads(r["EventPattern"]) for r in rules.values() if r.get("EventPattern")]
        self.assertIn(["EMR Cluster State Change"], [p.get("detail-type") for p in patterns])
        self.assertIn(["Object Created"], [p.get("detail-type") for p in patterns])
        self.assertIn("rate(5 minutes)", [r.get("ScheduleExpression") for r in rules.values()])

    def test_the_state_machine_gets_the_stacks_partition(self):
        # DefinitionSubstitutions fill in ${Partition} from AWS::Partition
        # (the emulator's CloudFormation applies them as AWS's does).
        arn = self.outputs["StateMachineArn"]
        definition = client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
        self.assertIn('"arn:aws:states:::aws-sdk:emr:runJobFlow"', definition)
        self.assertNotIn("${", definition)
        self.assertEqual(json.loads(definition)["StartAt"], self.definition["StartAt"])

    def test_undelivered_triggers_have_a_dead_letter_queue(self):
        queues = [url.rsplit("/", 1)[-1] for url in client("sqs").list_queues()["QueueUrls"]]
        self.assertIn(self.outputs["UndeliveredTriggersQueueUrl"].rsplit("/", 1)[-1], queues)
        targets = []
        events = client("events")
        for rule in events.list_rules()["Rules"]:
            targets += events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        s3_targets = [t for t in targets if "DeadLetterConfig" in t]
        self.assertTrue(s3_targets, "the S3 rule's target has a dead-letter queue")
        # The profiles' schedules (the default group); the idle sweep's
        # one-time checks live in a group of their own, deleted once run.
        scheduler = client("scheduler")
        profiles = scheduler.list_schedules(GroupName="default")["Schedules"]
        for schedule in profiles:
            target = scheduler.get_schedule(Name=schedule["Name"])["Target"]
            self.assertIn("DeadLetterConfig", target, schedule["Name"])

    def test_the_topic_exists(self):
        topics = [t["TopicArn"] for t in client("sns").list_topics()["Topics"]]
        self.assertIn(self.outputs["TopicArn"], topics)


if __name__ == "__main__":
    unittest.main(verbosity=2)
