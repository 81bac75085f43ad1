"""deploy/afterword-intake.yaml: linted against AWS's resource schemas, created on moto.

The stack is created through CloudFormation on a moto server of its own, in a subprocess:
moto's CloudFormation warns about resource types it cannot model, and this suite turns
warnings into errors. moto has no model for ``AWS::Lambda::Url``, so the stack is created
without that one resource (and its output); the URL is then made through the Lambda API with
the template's own properties, and cfn-lint checks the whole template, that resource included.
"""

from __future__ import annotations

import ast
import copy
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
import yaml
from cfnlint.api import ManualArgs, lint
from fixtures_intake import comment_fields
from test_lambda_support import LambdaTransport, drain

from afterword.intake.lambda_handler import lambda_config, make_handler

pytestmark = pytest.mark.s3

TEMPLATE = Path(__file__).parent.parent / "deploy" / "afterword-intake.yaml"
ORIGIN = "https://blog.example.com"
SERVER = (
    "from moto.server import ThreadedMotoServer\n"
    "server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)\n"
    "server.start()\n"
    "print(server.get_host_and_port()[1], flush=True)\n"
    "import sys; sys.stdin.read()\n"  # until the test closes our stdin
)


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def cloud() -> Iterator[str]:
    """A moto server in a subprocess of its own; its endpoint URL."""
    process = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", SERVER],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdin is not None
    port = process.stdout.readline().strip()
    try:
        assert port.isdigit(), "the moto server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stdin.close()
        process.terminate()
        process.wait(30)
        process.stdout.close()


@pytest.fixture(scope="module")
def stack(cloud: str) -> dict[str, Any]:
    """The stack, created; its outputs and resources by logical id."""
    kw = {"endpoint_url": cloud, "region_name": "us-east-1"}
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as bundle:
        bundle.writestr("afterword/__init__.py", "")
    s3 = boto3.client("s3", **kw)
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="afterword-lambda.zip", Body=code.getvalue())
    body = template()
    del body["Resources"]["FunctionUrl"], body["Outputs"]["IntakeUrl"]  # not in moto
    cloudformation = boto3.client("cloudformation", **kw)
    cloudformation.create_stack(
        StackName="comments",
        TemplateBody=json.dumps(body),
        Parameters=[
            {"ParameterKey": "SiteOrigin", "ParameterValue": ORIGIN},
            {"ParameterKey": "CodeBucket", "ParameterValue": "code"},
            {"ParameterKey": "PagesAllowed", "ParameterValue": "/blog/*"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    described = cloudformation.describe_stacks(StackName="comments")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    listed = cloudformation.describe_stack_resources(StackName="comments")["StackResources"]
    return {
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]},
        "resources": {r["LogicalResourceId"]: r for r in listed},
        "kw": kw,
    }


def client(stack: dict[str, Any], service: str) -> Any:
    return boto3.client(service, **stack["kw"])


def statements(document: Any) -> list[dict[str, Any]]:
    """A policy's statements, whichever way it comes back: IAM URL-encodes JSON (boto3
    decodes it); moto's CloudFormation stores an inline role policy as a Python literal."""
    if isinstance(document, str):
        text = unquote(document)
        document = json.loads(text) if text.startswith('{"') else ast.literal_eval(text)
    found = document["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_the_template_passes_cfn_lint_with_every_resource() -> None:
    assert lint(TEMPLATE.read_text(), config=ManualArgs(regions=["us-east-1"])) == []


def test_cfn_lint_would_catch_a_broken_function_url() -> None:
    broken = copy.deepcopy(template())
    broken["Resources"]["FunctionUrl"]["Properties"]["Cors"]["AllowOrigin"] = [ORIGIN]
    assert lint(json.dumps(broken), config=ManualArgs(regions=["us-east-1"])) != []


def test_the_queue_is_encrypted_keeps_four_days_and_has_a_dead_letter_queue(
    stack: dict[str, Any],
) -> None:
    sqs = client(stack, "sqs")
    names = ["All"]
    queue = sqs.get_queue_attributes(QueueUrl=stack["outputs"]["QueueUrl"], AttributeNames=names)
    dead = sqs.get_queue_attributes(
        QueueUrl=stack["outputs"]["DeadLetterQueueUrl"], AttributeNames=names
    )["Attributes"]
    attributes = queue["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert attributes["MessageRetentionPeriod"] == "345600"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dead["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    assert dead["SqsManagedSseEnabled"] == "true"
    assert attributes["QueueArn"] == stack["outputs"]["QueueArn"]


def test_the_function_may_only_send_to_that_queue_and_write_its_logs(
    stack: dict[str, Any],
) -> None:
    iam = client(stack, "iam")
    role = stack["resources"]["FunctionRole"]["PhysicalResourceId"]
    trust = statements(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    granted = [
        s
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        for s in statements(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
    ]
    assert all(s["Effect"] == "Allow" for s in granted)
    sqs_grants = [s for s in granted if any(a.startswith("sqs:") for a in actions(s))]
    assert [(actions(s), s["Resource"]) for s in sqs_grants] == [
        ({"sqs:SendMessage"}, stack["outputs"]["QueueArn"])
    ]
    others = [s for s in granted if s not in sqs_grants]
    assert [actions(s) for s in others] == [{"logs:CreateLogStream", "logs:PutLogEvents"}]
    assert others[0]["Resource"].endswith(":log-group:/aws/lambda/comments-intake:*")


def test_the_pull_policy_grants_exactly_what_pull_needs(stack: dict[str, Any]) -> None:
    iam = client(stack, "iam")
    arn = stack["outputs"]["PullPolicyArn"]
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    [grant] = statements(document["Document"])
    assert actions(grant) == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    assert grant["Resource"] == stack["outputs"]["QueueArn"]


def test_the_function_runs_the_handler_with_the_queue_in_its_environment(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    function = client(stack, "lambda").get_function(FunctionName="comments-intake")
    config = function["Configuration"]
    assert config["Handler"] == "afterword.intake.lambda_handler.handler"
    assert config["Runtime"] == "python3.11"
    assert config["Role"].endswith("/" + stack["resources"]["FunctionRole"]["PhysicalResourceId"])
    env = config["Environment"]["Variables"]
    assert env["AFTERWORD_INTAKE_QUEUE"] == stack["outputs"]["QueueUrl"]
    # The deployed variables are a working intake config: post through it, into that queue.
    assert lambda_config(env).site.pages == ["/blog/*"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", stack["kw"]["endpoint_url"])
    handler = make_handler(env)
    try:
        answer = LambdaTransport("function-url", handler).post_json(
            comment_fields(), client="198.51.100.77", origin=ORIGIN
        )
    finally:
        handler.app.state.intake.writer.stop()
    assert answer.status == 202
    [message] = drain(stack["kw"]["endpoint_url"], stack["outputs"]["QueueUrl"])
    assert message["id"] == answer.json()["data"]["submission"]


def test_the_function_url_allows_only_the_sites_origin(stack: dict[str, Any]) -> None:
    url = template()["Resources"]["FunctionUrl"]["Properties"]
    assert url["Cors"]["AllowOrigins"] == [{"Ref": "SiteOrigin"}]
    assert url["TargetFunctionArn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    lambda_client = client(stack, "lambda")
    arn = lambda_client.get_function(FunctionName="comments-intake")["Configuration"]["FunctionArn"]
    cors = {**url["Cors"], "AllowOrigins": [ORIGIN]}
    lambda_client.create_function_url_config(FunctionName=arn, AuthType=url["AuthType"], Cors=cors)
    made = lambda_client.get_function_url_config(FunctionName=arn)
    assert made["AuthType"] == "NONE"
    assert made["Cors"]["AllowOrigins"] == [ORIGIN]
    assert made["Cors"]["AllowMethods"] == ["POST"]
    policy = json.loads(lambda_client.get_policy(FunctionName="comments-intake")["Policy"])
    granted = {s["Action"] for s in policy["Statement"]}
    assert granted == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
