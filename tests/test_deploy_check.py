"""`cryptoalerts check` and the cfn-lint custom rules on hand-written templates.

Each case is a small YAML template with short-form tags (read through cfn-lint's
decoder, as users' templates are), run through the three front ends: the
``check`` command, cfn-lint's Python API with ``append_rules``, and (once) the
``cfn-lint -a`` command line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from cryptoalerts.cli import main
from cryptoalerts.deploy.cfnlint_rules import RULES_DIR

ROLE_BASE = """\
              - Effect: Allow
                Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query]
                Resource: [!GetAtt Table.Arn, !Sub "${Table.Arn}/index/*"]
              - Effect: Allow
                Action: [logs:CreateLogStream, logs:PutLogEvents]
                Resource: !Sub "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/*"
"""

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Queue:
    Type: AWS::SQS::Queue
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
  Topic:
    Type: AWS::SNS::Topic
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub "${AWS::StackName}-bus"
  Bucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
  MatcherRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}]
      Policies:
        - PolicyName: matcher
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
%(statements)s
  ProcessedRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}]
  Matcher:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: alert_matcher.handler
      Role: !GetAtt MatcherRole.Arn
      Code: {ZipFile: "def handler(event, context): return None"}
      ReservedConcurrentExecutions: %(matcher_concurrency)s
  Processed:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: processed_alerts.handler
      Role: !GetAtt ProcessedRole.Arn
      Code: {ZipFile: "def handler(event, context): return None"}
      ReservedConcurrentExecutions: %(processed_concurrency)s
  MatcherInvokeConfig:
    Type: AWS::Lambda::EventInvokeConfig
%(depends_on)s    Properties:
      FunctionName: !Ref Matcher
      Qualifier: $LATEST
      MaximumRetryAttempts: 2
      DestinationConfig:
        %(which)s:
          Destination: %(destination)s
%(extra)s"""


def stack(
    destination: str = "!GetAtt Processed.Arn",
    statements: str = "",
    *,
    which: str = "OnSuccess",
    matcher_concurrency: int = 5,
    processed_concurrency: int = 10,
    depends_on: str | None = None,
    extra: str = "",
) -> str:
    return TEMPLATE % {
        "statements": ROLE_BASE + statements,
        "destination": destination,
        "which": which,
        "matcher_concurrency": matcher_concurrency,
        "processed_concurrency": processed_concurrency,
        "depends_on": f"    DependsOn: {depends_on}\n" if depends_on else "",
        "extra": extra,
    }


def statement(action: str, resource: str, effect: str = "Allow") -> str:
    return f"              - {{Effect: {effect}, Action: {action}, Resource: {resource}}}\n"


SEPARATE_POLICY = """\
  InvokePolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: invoke-processed
      Roles: [!Ref MatcherRole]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: "lambda:InvokeFunction", Resource: !GetAtt Processed.Arn}
"""

# (case id, template, extra check args, expected rule ids, text every message must contain)
CASES: list[tuple[str, str, list[str], set[str], str]] = [
    # Failure 1 of the first deployment: the matcher's role had DynamoDB and Logs only.
    ("lambda-missing", stack(), [], {"E9101"}, "needs lambda:InvokeFunction"),
    ("lambda-granted", stack(statements=statement("lambda:InvokeFunction", "!GetAtt Processed.Arn")), [], set(), ""),
    ("lambda-granted-by-sub", stack(statements=statement(
        "lambda:InvokeFunction",
        '!Sub "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Processed}"')), [], set(), ""),
    ("lambda-wrong-action", stack(statements=statement("lambda:GetFunction", "!GetAtt Processed.Arn")),
     [], {"E9101"}, "needs lambda:InvokeFunction"),
    ("lambda-ref-is-a-name-not-an-arn", stack(statements=statement("lambda:InvokeFunction", "!Ref Processed")),
     [], {"E9101"}, "MatcherRole"),
    ("lambda-denied", stack(statements=statement("lambda:InvokeFunction", "!GetAtt Processed.Arn")
                            + statement("'lambda:*'", "!GetAtt Processed.Arn", effect="Deny")),
     [], {"E9101"}, "Deny"),
    # Qualified (alias) destination: the unqualified ARN does not cover it; name* does.
    ("alias-unqualified-grant", stack('!Sub "${Processed.Arn}:live"',
                                      statement("lambda:InvokeFunction", "!GetAtt Processed.Arn")),
     [], {"E9101"}, "needs lambda:InvokeFunction"),
    ("alias-wildcard-grant", stack('!Sub "${Processed.Arn}:live"',
                                   statement("lambda:InvokeFunction", '!Sub "${Processed.Arn}:*"')), [], set(), ""),
    ("alias-literal-arn", stack("arn:aws:lambda:us-east-1:123456789012:function:other:live", statement(
        "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:other:live")), [], set(), ""),
    ("literal-arn-missing", stack("arn:aws:lambda:us-east-1:123456789012:function:other"), [], {"E9101"},
     "needs lambda:InvokeFunction"),
    ("sqs-missing", stack("!GetAtt Queue.Arn", which="OnFailure"), [], {"E9101"}, "needs sqs:SendMessage"),
    ("sqs-granted", stack("!GetAtt Queue.Arn", statement("sqs:SendMessage", "!GetAtt Queue.Arn"), which="OnFailure"),
     [], set(), ""),
    ("sns-missing", stack("!Ref Topic", statement("sqs:SendMessage", "!GetAtt Queue.Arn")), [], {"E9101"},
     "needs sns:Publish"),
    ("sns-granted", stack("!Ref Topic", statement("sns:Publish", "!Ref Topic")), [], set(), ""),
    ("eventbridge-missing", stack("!GetAtt Bus.Arn"), [], {"E9101"}, "needs events:PutEvents"),
    ("eventbridge-granted", stack("!GetAtt Bus.Arn", statement("events:PutEvents", "!GetAtt Bus.Arn")), [], set(), ""),
    ("s3-put-only", stack("!GetAtt Bucket.Arn", statement("s3:PutObject", '!Sub "${Bucket.Arn}/*"'),
                          which="OnFailure"), [], {"E9101"}, "needs s3:ListBucket"),
    ("s3-granted", stack("!GetAtt Bucket.Arn", statement("s3:PutObject", '!Sub "${Bucket.Arn}/*"')
                         + statement("s3:ListBucket", "!GetAtt Bucket.Arn"), which="OnFailure"), [], set(), ""),
    ("s3-on-success", stack("!GetAtt Bucket.Arn", statement("s3:PutObject", '!Sub "${Bucket.Arn}/*"')
                            + statement("s3:ListBucket", "!GetAtt Bucket.Arn")), [], {"E9101"}, "only as OnFailure"),
    # The grant in a separate AWS::IAM::Policy: fine only if the config waits for it.
    ("separate-policy-no-dependson", stack(extra=SEPARATE_POLICY), [], {"E9102"}, "DependsOn: InvokePolicy"),
    ("separate-policy-dependson", stack(extra=SEPARATE_POLICY, depends_on="InvokePolicy"), [], set(), ""),
    # Failure 2: reservations above what the account allows.
    ("concurrency-100-50-account-200", stack(statements=statement("lambda:InvokeFunction", "!GetAtt Processed.Arn"),
                                             matcher_concurrency=100, processed_concurrency=50),
     ["--account-limit", "200"], {"E9103"}, "reserved concurrency totals 150"),
    ("concurrency-10-5-account-200", stack(statements=statement("lambda:InvokeFunction", "!GetAtt Processed.Arn")),
     ["--account-limit", "200"], set(), ""),
    ("concurrency-950-default-account", stack(statements=statement("lambda:InvokeFunction", "!GetAtt Processed.Arn"),
                                              matcher_concurrency=950),
     [], {"E9103"}, "leaving 40 unreserved of account limit 1000"),
    ("concurrency-account-50", stack(statements=statement("lambda:InvokeFunction", "!GetAtt Processed.Arn")),
     ["--account-limit", "50"], {"E9103"}, "at least 100 unreserved"),
    ("concurrency-account-50-floor-10", stack(statements=statement("lambda:InvokeFunction", "!GetAtt Processed.Arn")),
     ["--account-limit", "50", "--unreserved-floor", "10"], set(), ""),
    # Least privilege.
    ("wildcard-resource", stack(statements=statement("lambda:InvokeFunction", "'*'")), [], {"E9104"},
     'Resource "*" for lambda:InvokeFunction'),
    ("wildcard-unscopable-action", stack(statements=statement("lambda:InvokeFunction", "!GetAtt Processed.Arn")
                                         + statement("xray:PutTraceSegments", "'*'")), [], set(), ""),
]
IDS = [case[0] for case in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, list[str], set[str], str]:
    name, text, args, expected, fragment = request.param
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path, args, expected, fragment


def test_check_command(case: tuple[Path, list[str], set[str], str], capsys: pytest.CaptureFixture[str]) -> None:
    path, args, expected, fragment = case
    code = main(["check", str(path), *args])
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    if not expected:
        assert code == 0, lines
        assert lines == [f"{path}: passes the cryptoalerts deployment checks (E9101-E9104)"]
        return
    assert code == 1
    assert {line.split()[1] for line in lines} == expected, lines
    assert all(fragment in line for line in lines), lines


def _rule_config(args: list[str]) -> dict[str, dict[str, int]]:
    settings = dict(zip(args[::2], args[1::2], strict=True))
    config = {flag[2:].replace("-", "_"): int(value) for flag, value in settings.items()}
    return {"E9103": config} if config else {}


def test_cfn_lint_custom_rules(case: tuple[Path, list[str], set[str], str]) -> None:
    """The same cases through cfn-lint with the shipped rules: the same findings, and
    cfn-lint's own rules find nothing else wrong in these templates."""
    path, args, expected, fragment = case
    config = ManualArgs(regions=["us-east-1"], append_rules=[str(RULES_DIR)], configure_rules=_rule_config(args))
    matches = lint(path.read_text(), config=config)
    assert {m.rule.id for m in matches} == expected, [str(m) for m in matches]
    assert all(fragment in m.message for m in matches)


def test_cfn_lint_command_line_with_rules_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--rules-dir"]) == 0
    rules_dir = capsys.readouterr().out.strip()
    assert Path(rules_dir) == RULES_DIR
    assert sorted(p.stem for p in RULES_DIR.glob("[A-Z]*.py")) == [
        "DestinationPermission", "InvokeConfigOrdering", "ReservedConcurrency", "WildcardResource"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(stack(matcher_concurrency=950))
    cfn_lint = [str(Path(sys.executable).with_name("cfn-lint"))]
    result = subprocess.run([*cfn_lint, str(bad), "-a", rules_dir], capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stdout + result.stderr  # 2: errors found
    assert "E9101" in result.stdout
    assert "E9103" in result.stdout
    result = subprocess.run([*cfn_lint, str(bad), "-a", rules_dir, "--configure-rule", "E9103:account_limit=2000",
                             "--ignore-checks", "E9101"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_rejects_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "missing.yaml")]) == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources: [unclosed\n")
    assert main(["check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "missing.yaml: no such file" in err
    assert "broken.yaml: not a readable template" in err


def test_json_templates_are_checked_too(tmp_path: Path) -> None:
    from cfnlint.decode import decode

    source = tmp_path / "t.yaml"
    source.write_text(stack())
    template, _ = decode(str(source))
    import json

    path = tmp_path / "t.json"
    path.write_text(json.dumps(template))
    assert main(["check", str(path)]) == 1
