"""The CloudFormation emitter: cfn-lint clean, our own checks clean, golden file, handler names."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptoalerts.cli import main
from cryptoalerts.deploy.cfnlint_rules import RULES_DIR
from cryptoalerts.deploy.checks import AccountLimits, check_template
from cryptoalerts.deploy.handlers import handler_problems, handlers_dir, load_specs
from cryptoalerts.deploy.spec import Destination, FunctionSpec, Permission
from cryptoalerts.deploy.template import TemplateOptions, build_template, dump_template
from cryptoalerts.errors import ValidationError

GOLDEN = Path(__file__).parent / "golden" / "template.json"
REPO = Path(__file__).resolve().parents[1]

# The declarations of deploy_decl.md, built here so the emitter's tests do not depend
# on the handler files (the loader tests below read those).
DYNAMO = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchWriteItem")
SPECS = (
    FunctionSpec(
        name="PriceWebhookProcessor", handler="price_webhook.handler", memory_mb=256, timeout_s=10,
        reserved_concurrency=10, invokes=("AlertMatcher",),
        permissions=(Permission(("secretsmanager:GetSecretValue",), "WebhookSecretArn"),),
        environment={"MATCHER_FUNCTION_NAME": "ref:AlertMatcher", "WEBHOOK_SECRET_ARN": "ref:WebhookSecretArn"},
        http_route="POST /ticks",
    ),
    FunctionSpec(
        name="AlertMatcher", handler="alert_matcher.handler", memory_mb=1024, timeout_s=60, reserved_concurrency=5,
        permissions=(Permission(DYNAMO, "AlertsTable"), Permission(DYNAMO, "AlertsTable", "/index/*")),
        environment={"CRYPTOALERTS_TABLE": "ref:AlertsTable"},
        on_success=Destination("lambda", "ProcessedAlerts"), on_failure=Destination("sqs", "FailureQueue"),
        max_retry_attempts=2, max_event_age_s=3600,
    ),
    FunctionSpec(
        name="ProcessedAlerts", handler="processed_alerts.handler", memory_mb=256, timeout_s=30,
        permissions=(Permission(DYNAMO, "AlertsTable"), Permission(DYNAMO, "AlertsTable", "/index/*"),
                     Permission(("sns:Publish",), "NotificationsTopic")),
        environment={"CRYPTOALERTS_TABLE": "ref:AlertsTable", "NOTIFICATIONS_TOPIC_ARN": "ref:NotificationsTopic"},
    ),
)
TABLE: dict[str, Any] = {
    "TableName": "alerts",
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "sym", "AttributeType": "S"}, {"AttributeName": "thr", "AttributeType": "N"},
    ],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "GlobalSecondaryIndexes": [{
        "IndexName": "by_symbol",
        "KeySchema": [{"AttributeName": "sym", "KeyType": "HASH"}, {"AttributeName": "thr", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }],
    "TimeToLiveAttribute": "ttl",
}


def cfn_lint(template: dict[str, Any], *, custom_rules: bool = True) -> list[str]:
    """cfn-lint's findings (errors, warnings and informational) as strings."""
    config = ManualArgs(regions=["us-east-1"], include_checks=["I"],
                        append_rules=[str(RULES_DIR)] if custom_rules else [])
    return [f"{m.rule.id} {m.message} ({m.path})" for m in lint(json.dumps(template), config=config)]


def resources_of(template: dict[str, Any], rtype: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


@pytest.mark.parametrize(
    "options",
    [
        TemplateOptions(),
        TemplateOptions(architecture="x86_64", python="3.11", concurrency={"AlertMatcher": 30}),
        TemplateOptions(python="3.13", concurrency={"PriceWebhookProcessor": None, "AlertMatcher": None}),
        TemplateOptions(code_uri="s3://my-artifacts/cryptoalerts.zip", log_retention_days=90,
                        limits=AccountLimits(account_limit=200, unreserved_floor=100),
                        concurrency={"PriceWebhookProcessor": 60, "AlertMatcher": 40}),
    ],
    ids=["defaults", "x86_64-py311", "no-reservations", "s3-code-limit-200"],
)
def test_emitted_template_is_cfn_lint_clean(options: TemplateOptions) -> None:
    template = build_template(SPECS, TABLE, options)
    assert cfn_lint(template) == []
    assert check_template(template, options.limits) == []


def test_yaml_output_reads_back_identically_and_lints_clean(tmp_path: Path) -> None:
    from cfnlint.decode import decode

    template = build_template(SPECS, TABLE, TemplateOptions(architecture="x86_64"))
    path = tmp_path / "stack.yaml"
    path.write_text(dump_template(template, "yaml"))
    decoded, matches = decode(str(path))
    assert matches == []
    assert json.loads(json.dumps(decoded)) == template
    config = ManualArgs(regions=["us-east-1"], append_rules=[str(RULES_DIR)])
    assert lint(path.read_text(), config=config) == []


def test_golden_template() -> None:
    """The emitted bytes are stable; CRYPTOALERTS_REGEN_GOLDEN=1 rewrites the file."""
    text = dump_template(build_template(SPECS, TABLE), "json")
    if os.environ.get("CRYPTOALERTS_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    assert text == dump_template(build_template(reversed(SPECS), dict(TABLE)), "json")  # input order irrelevant


def test_stack_has_what_the_contract_requires() -> None:
    t = build_template(SPECS, TABLE)
    res = t["Resources"]
    table = res["AlertsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["KeySchema"] == TABLE["KeySchema"]
    assert "TableName" not in table
    matcher = res["AlertMatcher"]["Properties"]
    assert matcher["Architectures"] == ["arm64"]
    assert matcher["Runtime"] == "python3.12"
    assert matcher["ReservedConcurrentExecutions"] == 5
    assert res["PriceWebhookProcessor"]["Properties"]["ReservedConcurrentExecutions"] == 10
    assert "ReservedConcurrentExecutions" not in res["ProcessedAlerts"]["Properties"]
    assert matcher["Environment"]["Variables"] == {"CRYPTOALERTS_TABLE": {"Ref": "AlertsTable"}}
    config = res["AlertMatcherEventInvokeConfig"]["Properties"]
    assert config["Qualifier"] == "$LATEST"
    assert config["DestinationConfig"] == {
        "OnSuccess": {"Destination": {"Fn::GetAtt": ["ProcessedAlerts", "Arn"]}},
        "OnFailure": {"Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}},
    }
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 3600)
    matcher_statements = res["AlertMatcherRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"Sid": "DeliverOnSuccess", "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["ProcessedAlerts", "Arn"]}} in matcher_statements
    webhook_statements = res["PriceWebhookProcessorRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"Sid": "InvokeAlertMatcher", "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["AlertMatcher", "Arn"]}} in webhook_statements
    integration = res["PriceWebhookProcessorIntegration"]["Properties"]
    assert integration["PayloadFormatVersion"] == "2.0"
    assert res["PriceWebhookProcessorRoute"]["Properties"]["RouteKey"] == "POST /ticks"
    assert res["HttpApiStage"]["Properties"] == {"ApiId": {"Ref": "HttpApi"}, "StageName": "$default",
                                                 "AutoDeploy": True}
    permission = res["PriceWebhookProcessorApiPermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert "SourceArn" in permission
    assert t["Parameters"]["WebhookSecretArn"]["Type"] == "String"
    assert "PriceWebhookProcessorUrl" in t["Outputs"]
    # No '*' resource anywhere, and nothing secret-looking in the template.
    text = json.dumps(t)
    assert '"Resource": "*"' not in text
    assert "WEBHOOK_SECRET\"" not in text


def test_refuses_concurrency_that_leaves_too_little_unreserved() -> None:
    options = TemplateOptions(concurrency={"AlertMatcher": 950}, labels={"AlertMatcher": "--matcher-concurrency"})
    with pytest.raises(ValidationError, match=r"--matcher-concurrency=950: reserved total 960 .* leaves 40 "
                                               r"unreserved of 1000; Lambda needs >= 100"):
        build_template(SPECS, TABLE, options)
    with pytest.raises(ValidationError, match=r"account_limit=50: .*no concurrency can be reserved"):
        build_template(SPECS, TABLE, TemplateOptions(limits=AccountLimits(account_limit=50)))
    # Within the limit of a small account it works.
    small = TemplateOptions(limits=AccountLimits(account_limit=50, unreserved_floor=10),
                            concurrency={"PriceWebhookProcessor": 30})
    assert build_template(SPECS, TABLE, small)["Resources"]["AlertMatcher"]["Properties"][
        "ReservedConcurrentExecutions"] == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"memory_mb": 64}, "AlertMatcher.memory_mb"),
        ({"timeout_s": 901}, "AlertMatcher.timeout_s"),
        ({"max_retry_attempts": 3}, "AlertMatcher.max_retry_attempts"),
        ({"max_event_age_s": 30}, "AlertMatcher.max_event_age_s"),
        ({"on_success": Destination("s3", "Archive")}, "AlertMatcher.on_success"),
        ({"on_success": Destination("lambda", "Nowhere")}, "AlertMatcher.on_success"),
        ({"on_failure": Destination("sqs", "NotificationsTopic")}, "AlertMatcher.on_failure"),
        ({"permissions": (Permission(("s3:GetObject",), "SomeBucket"),)}, "AlertMatcher.permissions"),
        ({"environment": {"X": "ref:Missing"}}, r"AlertMatcher.environment\[X\]"),
        ({"environment": {"AWS_REGION": "eu-west-1"}}, "AlertMatcher.environment"),
        ({"handler": "alert-matcher"}, "AlertMatcher.handler"),
    ],
)
def test_bad_declarations_are_rejected_naming_the_field(change: dict[str, Any], field: str) -> None:
    import dataclasses

    specs = [dataclasses.replace(s, **change) if s.name == "AlertMatcher" else s for s in SPECS]
    with pytest.raises(ValidationError, match=field):
        build_template(specs, TABLE)


# --------------------------------------------------------------------------- the real handler files


def test_loader_reads_every_handler_files_deploy() -> None:
    specs = {s.name: s for s in load_specs()}
    assert set(specs) == {"PriceWebhookProcessor", "AlertMatcher", "ProcessedAlerts"}
    for name, declared in {s.name: s for s in SPECS}.items():
        real = specs[name]
        assert (real.handler, real.memory_mb, real.timeout_s, real.reserved_concurrency) == (
            declared.handler, declared.memory_mb, declared.timeout_s, declared.reserved_concurrency)
        assert (real.on_success, real.on_failure, real.invokes, real.http_route) == (
            declared.on_success, declared.on_failure, declared.invokes, declared.http_route)
        assert real.environment == declared.environment
        # the same resources (ARN suffixes included), so the golden template's IAM has the real shape
        assert [(p.resource, p.suffix) for p in real.permissions] == [
            (p.resource, p.suffix) for p in declared.permissions]


def test_every_handler_in_the_real_template_names_a_real_file_and_function(tmp_path: Path) -> None:
    out = tmp_path / "template.json"
    assert main(["template", "--out", str(out)]) == 0
    template = json.loads(out.read_text())
    handlers = [r["Properties"]["Handler"] for r in resources_of(template, "AWS::Lambda::Function").values()]
    assert len(handlers) == 3
    assert handler_problems(template) == []
    for handler in handlers:
        module, function = handler.split(".")
        assert (REPO / "adapters" / "lambda" / f"{module}.py").is_file()
        assert f"def {function}(" in (handlers_dir() / f"{module}.py").read_text()
    assert cfn_lint(template) == []


def test_handler_problems_reports_a_wrong_handler() -> None:
    template = build_template(SPECS, TABLE)
    template["Resources"]["AlertMatcher"]["Properties"]["Handler"] = "alert_matcher.missing"
    template["Resources"]["ProcessedAlerts"]["Properties"]["Handler"] = "nowhere.handler"
    problems = handler_problems(template)
    assert len(problems) == 2
    assert "alert_matcher.py defines no 'missing'" in problems[0]
    assert "names no file" in problems[1]


def test_cli_template_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.yaml"
    assert main(["template", "--out", str(out), "--arch", "x86_64", "--python", "3.11",
                 "--webhook-concurrency", "20", "--matcher-concurrency", "none", "--code-uri", "dist/x.zip"]) == 0
    from cfnlint.decode import decode

    template, _ = decode(str(out))
    props = template["Resources"]["PriceWebhookProcessor"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == 20
    assert props["Architectures"] == ["x86_64"]
    assert props["Code"] == "dist/x.zip"
    assert "ReservedConcurrentExecutions" not in template["Resources"]["AlertMatcher"]["Properties"]
    assert main(["template", "--matcher-concurrency", "950"]) == 1
    err = capsys.readouterr().err
    assert "--matcher-concurrency=950: reserved total 960" in err
    assert "Lambda needs >= 100" in err


# --------------------------------------------------------------------------- random declarations

_names = st.sampled_from(["Alpha", "Beta", "Gamma"])
_destinations = st.one_of(
    st.none(),
    st.builds(Destination, st.just("lambda"), _names),
    st.builds(Destination, st.just("sqs"), st.sampled_from(["FailureQueue", "OtherQueue"])),
    st.builds(Destination, st.just("sns"), st.sampled_from(["NotificationsTopic", "OtherTopic"])),
    st.builds(Destination, st.just("eventbridge"), st.just("Bus")),
    st.builds(Destination, st.just("s3"), st.just("Archive")),
)


@st.composite
def _spec(draw: st.DrawFn, name: str) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        handler=f"{name.lower()}.handler",
        memory_mb=draw(st.sampled_from([64, 128, 512, 3008, 10240, 20000])),
        timeout_s=draw(st.sampled_from([0, 1, 30, 900, 1000])),
        reserved_concurrency=draw(st.one_of(st.none(), st.integers(0, 600))),
        permissions=draw(st.sampled_from([(), (Permission(DYNAMO, "AlertsTable"),)])),
        invokes=draw(st.sampled_from([(), ("Alpha",)])),
        on_success=draw(_destinations),
        on_failure=draw(_destinations),
        max_retry_attempts=draw(st.integers(0, 3)),
        max_event_age_s=draw(st.sampled_from([30, 60, 3600, 21600, 30000])),
        http_route=draw(st.sampled_from([None, f"POST /{name.lower()}"])),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.tuples(_spec("Alpha"), _spec("Beta"), _spec("Gamma")),
    account_limit=st.sampled_from([10, 50, 1000, 1500]),
    floor=st.sampled_from([10, 100]),
)
def test_random_declarations_give_a_clean_template_or_a_named_error(
    specs: tuple[FunctionSpec, ...], account_limit: int, floor: int
) -> None:
    options = TemplateOptions(limits=AccountLimits(account_limit=account_limit, unreserved_floor=floor))
    error: ValidationError | None = None
    try:
        template = build_template(specs, TABLE, options)
    except ValidationError as exc:
        error = exc
    if error is not None:
        # The error names a setting of the declarations or the account limits.
        assert error.field.split(".")[0] in {"Alpha", "Beta", "Gamma", "account_limit"}, str(error)
        return
    assert check_template(template, options.limits) == []
    assert cfn_lint(template, custom_rules=False) == []
