"""The CloudFormation stack, emitted from the handlers' ``DEPLOY`` declarations.

:func:`build_template` is a pure function: the function specs, the DynamoDB table
spec (``cryptoalerts.aws.dynamodb.table_spec``) and the options go in, a template
``dict`` comes out, with a deterministic key order so the same inputs always give
the same bytes (the golden-file test relies on it). Nothing is read from disk or AWS.

What it guarantees, because each was a failed deployment once:

- every role is least privilege: one inline policy per function naming each
  resource (its log group, the stack resources of its ``permissions``, the
  functions it ``invokes``) and the destination rights Lambda needs in the
  *source* role (``lambda:InvokeFunction``, ``sqs:SendMessage``, ``sns:Publish``,
  ``events:PutEvents``, ``s3:PutObject`` + ``s3:ListBucket``);
- those rights are inline in the role, so the ``EventInvokeConfig`` (which waits
  for the function, which waits for the role) is never created before them;
- reserved concurrency leaves Lambda its unreserved floor;
- the result passes every check of :mod:`cryptoalerts.deploy.checks`, or the
  emitter raises :class:`~cryptoalerts.errors.ValidationError` naming the setting
  to change instead of returning a template that would fail to deploy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptoalerts.deploy.checks import DESTINATION_ACTIONS, AccountLimits, check_template
from cryptoalerts.deploy.spec import Destination, FunctionSpec, Permission
from cryptoalerts.errors import ValidationError

__all__ = ["PYTHON_VERSIONS", "TemplateOptions", "build_template", "dump_template"]

Architecture = Literal["arm64", "x86_64"]
PYTHON_VERSIONS = ("3.11", "3.12", "3.13", "3.14")

TABLE = "AlertsTable"
SECRET_PARAMETER = "WebhookSecretArn"
_API = "HttpApi"

# Stack resources a declaration may name, and what each one is.
_KNOWN_KINDS = {
    "AlertsTable": "table", "FailureQueue": "sqs", "NotificationsTopic": "sns", SECRET_PARAMETER: "parameter",
}
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "ANY")
_LOGICAL_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,54}$")
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                       2557, 2922, 3288, 3653)
_TABLE_PASSTHROUGH = ("TableClass", "DeletionProtectionEnabled", "Tags", "LocalSecondaryIndexes")


@dataclass(frozen=True, slots=True)
class TemplateOptions:
    """Settings that are the deployer's choice rather than the code's.

    ``concurrency`` overrides a function's declared reserved concurrency by function
    name (``None`` removes the reservation). ``labels`` maps a setting (a function
    name for its concurrency, ``"account_limit"``, ``"unreserved_floor"``) to the
    name the caller knows it by (e.g. a CLI flag), used in error messages.
    ``code_uri``: ``None`` adds ``CodeS3Bucket``/``CodeS3Key`` parameters;
    ``s3://bucket/key`` points at an uploaded zip; anything else is a local path for
    ``aws cloudformation package``.
    """

    architecture: Architecture = "arm64"
    python: str = "3.12"
    concurrency: Mapping[str, int | None] = field(default_factory=dict)
    limits: AccountLimits = field(default_factory=AccountLimits)
    code_uri: str | None = None
    log_retention_days: int = 30
    labels: Mapping[str, str] = field(default_factory=dict)


def build_template(
    specs: Iterable[FunctionSpec],
    table: Mapping[str, Any],
    options: TemplateOptions | None = None,
) -> dict[str, Any]:
    """The whole stack as a template ``dict``; raises ValidationError on a bad setting."""
    options = options or TemplateOptions()
    functions = sorted(specs, key=lambda s: s.name)
    _validate_options(options, functions)
    for spec in functions:
        _validate_spec(spec)
    _check_unique(functions)
    concurrency = {s.name: options.concurrency.get(s.name, s.reserved_concurrency) for s in functions}
    _check_concurrency(concurrency, options)

    stack = _Resources(functions)
    parameters: dict[str, Any] = {}
    if options.code_uri is None:
        parameters["CodeS3Bucket"] = {"Type": "String", "MinLength": 3,
                                      "Description": "S3 bucket holding the deployment zip (cryptoalerts package)"}
        parameters["CodeS3Key"] = {"Type": "String", "MinLength": 1, "Description": "S3 key of the deployment zip"}
    if SECRET_PARAMETER in stack.used:
        parameters[SECRET_PARAMETER] = {
            "Type": "String",
            "AllowedPattern": r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$",
            "Description": "ARN of the Secrets Manager secret holding the webhook HMAC key (never the key itself)",
        }
    resources: dict[str, Any] = {TABLE: _table_resource(table)}
    resources.update(stack.target_resources())
    outputs: dict[str, Any] = {"AlertsTableName": {"Value": {"Ref": TABLE}}}
    for spec in functions:
        resources.update(_function_resources(spec, concurrency[spec.name], stack, options))
    routes = [s for s in functions if s.http_route]
    if routes:
        resources[_API] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
            "Name": {"Fn::Sub": "${AWS::StackName}-webhooks"}, "ProtocolType": "HTTP"}}
        resources[f"{_API}Stage"] = {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
            "ApiId": {"Ref": _API}, "StageName": "$default", "AutoDeploy": True}}
        for spec in routes:
            resources.update(_route_resources(spec))
            path = str(spec.http_route).split(" ", 1)[1]
            outputs[f"{spec.name}Url"] = {
                "Description": f"POST ticks here ({spec.name})",
                "Value": {"Fn::Sub": f"https://${{{_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}{path}"},
            }
    for name in sorted(stack.targets):
        kind = stack.targets[name]
        if kind == "sqs":
            outputs[f"{name}Url"] = {"Value": {"Ref": name}}
        elif kind == "sns":
            outputs[f"{name}Arn"] = {"Value": {"Ref": name}}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "cryptoalerts: price webhook, alert matcher and notifications (generated by "
                       "`cryptoalerts template`; edit the handlers' DEPLOY declarations, not this file)",
    }
    if parameters:
        template["Parameters"] = parameters
    template["Resources"] = resources
    template["Outputs"] = outputs
    findings = check_template(template, options.limits)
    if findings:
        raise ValidationError("template", findings[0].resource, "; ".join(str(f) for f in findings))
    return template


def dump_template(template: Mapping[str, Any], fmt: Literal["json", "yaml"] | str = "json") -> str:
    """The template as text: JSON (2-space indent) or YAML (long-form intrinsics), key order kept."""
    if fmt == "json":
        return json.dumps(template, indent=2) + "\n"
    if fmt == "yaml":
        import yaml  # type: ignore[import-untyped]  # pyyaml comes with cfn-lint (the 'deploy' extra)

        return str(yaml.safe_dump(template, sort_keys=False, default_flow_style=False, width=120))
    raise ValidationError("format", fmt, "must be json or yaml")


# --------------------------------------------------------------------------- validation


def _validate_options(options: TemplateOptions, functions: Sequence[FunctionSpec]) -> None:
    if options.architecture not in ("arm64", "x86_64"):
        raise ValidationError("architecture", options.architecture, "must be arm64 or x86_64")
    if options.python not in PYTHON_VERSIONS:
        raise ValidationError("python", options.python, f"Lambda runtimes supported here: {', '.join(PYTHON_VERSIONS)}")
    if options.log_retention_days not in _LOG_RETENTION_DAYS:
        raise ValidationError("log_retention_days", options.log_retention_days,
                              f"CloudWatch Logs accepts {', '.join(map(str, _LOG_RETENTION_DAYS))}")
    if options.code_uri is not None and options.code_uri.startswith("s3://"):
        bucket, _, key = options.code_uri[5:].partition("/")
        if not bucket or not key:
            raise ValidationError("code_uri", options.code_uri, "an S3 location must be s3://bucket/key")
    if options.limits.account_limit < 1 or options.limits.unreserved_floor < 0:
        raise ValidationError(options.labels.get("account_limit", "account_limit"), options.limits.account_limit,
                              "the account limit must be positive and the floor not negative")
    names = {s.name for s in functions}
    for name in options.concurrency:
        if name not in names:
            raise ValidationError(options.labels.get(name, "concurrency"), name, "no function of that name")


def _validate_spec(spec: FunctionSpec) -> None:
    name = spec.name
    if not _LOGICAL_ID.match(name):
        raise ValidationError(f"{name}.name", name, "must be letters and digits, starting with a letter, <= 55 chars")
    if name in _KNOWN_KINDS or name == _API:
        raise ValidationError(f"{name}.name", name, "clashes with a resource of the stack")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$", spec.handler):
        raise ValidationError(f"{name}.handler", spec.handler, "must be 'module.function'")
    if not 128 <= spec.memory_mb <= 10240:
        raise ValidationError(f"{name}.memory_mb", spec.memory_mb, "Lambda allows 128..10240 MB")
    if not 1 <= spec.timeout_s <= 900:
        raise ValidationError(f"{name}.timeout_s", spec.timeout_s, "Lambda allows 1..900 s")
    if spec.reserved_concurrency is not None and spec.reserved_concurrency < 0:
        raise ValidationError(f"{name}.reserved_concurrency", spec.reserved_concurrency, "must be >= 0 or None")
    if not 0 <= spec.max_retry_attempts <= 2:
        raise ValidationError(f"{name}.max_retry_attempts", spec.max_retry_attempts, "Lambda allows 0..2 retries")
    if not 60 <= spec.max_event_age_s <= 21600:
        raise ValidationError(f"{name}.max_event_age_s", spec.max_event_age_s, "Lambda allows 60..21600 s")
    if spec.on_success is not None and spec.on_success.kind == "s3":
        raise ValidationError(f"{name}.on_success", spec.on_success, "S3 buckets are supported only for on_failure")
    for which, dest in (("on_success", spec.on_success), ("on_failure", spec.on_failure)):
        if dest is not None and (dest.kind not in DESTINATION_ACTIONS or not _LOGICAL_ID.match(dest.target)):
            raise ValidationError(f"{name}.{which}", dest, "needs a kind of lambda/sqs/sns/eventbridge/s3 and a "
                                                           "logical name of letters and digits")
    size = 0
    for key, value in spec.environment.items():
        if not _ENV_NAME.match(key) or key in _RESERVED_ENV:
            raise ValidationError(f"{name}.environment", key, "not a name Lambda lets a function set")
        size += len(key) + len(value)
    if size > 4096:
        raise ValidationError(f"{name}.environment", size, "Lambda allows 4 KB of environment variables")
    if spec.http_route is not None:
        method, _, path = spec.http_route.partition(" ")
        if method not in _HTTP_METHODS or not re.match(r"^/[A-Za-z0-9_/{}.+-]*$", path):
            raise ValidationError(f"{name}.http_route", spec.http_route, "must be 'METHOD /path', e.g. 'POST /ticks'")


def _check_unique(functions: Sequence[FunctionSpec]) -> None:
    seen: dict[str, str] = {}
    routes: set[str] = set()
    for spec in functions:
        if spec.name in seen:
            raise ValidationError("name", spec.name, "two functions declare the same name")
        seen[spec.name] = spec.handler
        if spec.http_route:
            if spec.http_route in routes:
                raise ValidationError(f"{spec.name}.http_route", spec.http_route, "another function has this route")
            routes.add(spec.http_route)


def _check_concurrency(concurrency: Mapping[str, int | None], options: TemplateOptions) -> None:
    limits = options.limits
    reserved = {name: value for name, value in concurrency.items() if value}
    total = sum(reserved.values())
    if total <= limits.reservable:
        return
    if limits.reservable <= 0:
        field_name = options.labels.get("account_limit", "account_limit")
        raise ValidationError(
            field_name, limits.account_limit,
            f"with an unreserved floor of {limits.unreserved_floor} no concurrency can be reserved, but the stack "
            f"reserves {total} ({_listing(reserved)}); remove the reservations or check the account's quota",
        )
    largest = max(reserved, key=lambda name: (reserved[name], name))
    unreserved = limits.account_limit - limits.reserved_elsewhere - total
    raise ValidationError(
        options.labels.get(largest, f"{largest}.reserved_concurrency"), reserved[largest],
        f"reserved total {total} ({_listing(reserved)}) leaves {unreserved} unreserved of {limits.account_limit}; "
        f"Lambda needs >= {limits.unreserved_floor}",
    )


def _listing(reserved: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {value}" for name, value in sorted(reserved.items()))


# --------------------------------------------------------------------------- resources


class _Resources:
    """The stack resources the declarations name, and how to reference each."""

    def __init__(self, functions: Sequence[FunctionSpec]) -> None:
        self.functions = {s.name for s in functions}
        self.targets: dict[str, str] = {}  # logical name -> kind, for queues, topics, buses, buckets
        self.used: set[str] = set()
        # Functions some other part of the stack invokes asynchronously: they get an
        # EventInvokeConfig so their retries and event age are the declared ones.
        self.invoked_async = {t for s in functions for t in s.invokes} | {
            d.target for s in functions for d in (s.on_success, s.on_failure) if d is not None and d.kind == "lambda"
        }
        for spec in functions:
            for which, dest in (("on_success", spec.on_success), ("on_failure", spec.on_failure)):
                if dest is not None:
                    self._add_destination(spec.name, which, dest)
        for spec in functions:
            for target in spec.invokes:
                if target not in self.functions:
                    raise ValidationError(f"{spec.name}.invokes", target, "no function of that name in the stack")
            for perm in spec.permissions:
                self.kind(perm.resource, f"{spec.name}.permissions")
            for key, value in spec.environment.items():
                if value.startswith("ref:"):
                    self.kind(value[4:], f"{spec.name}.environment[{key}]")

    def _add_destination(self, source: str, which: str, dest: Destination) -> None:
        field_name = f"{source}.{which}"
        if dest.kind == "lambda":
            if dest.target not in self.functions:
                raise ValidationError(field_name, dest.target, "a lambda destination must name a function of the stack")
            return
        known = _KNOWN_KINDS.get(dest.target) or self.targets.get(dest.target)
        if dest.target in self.functions or dest.target == TABLE or (known is not None and known != dest.kind):
            raise ValidationError(field_name, dest.target, f"is not a {dest.kind} resource of the stack")
        self.targets[dest.target] = dest.kind

    def kind(self, name: str, field_name: str) -> str:
        """What ``name`` is: a function, a known stack resource or a destination target."""
        if name in self.functions:
            return "function"
        kind = self.targets.get(name) or _KNOWN_KINDS.get(name)
        if kind is None:
            known = sorted({*self.functions, *self.targets, *_KNOWN_KINDS})
            raise ValidationError(field_name, name, f"no such resource in the stack (known: {', '.join(known)})")
        if kind in ("sqs", "sns"):
            self.targets.setdefault(name, kind)
        self.used.add(name)
        return kind

    def arn(self, name: str, suffix: str = "") -> Any:
        kind = "function" if name in self.functions else self.targets.get(name) or _KNOWN_KINDS[name]
        if kind in ("sns", "parameter"):  # Ref of a topic or of the ARN parameter is the ARN
            return {"Fn::Sub": f"${{{name}}}{suffix}"} if suffix else {"Ref": name}
        return {"Fn::Sub": f"${{{name}.Arn}}{suffix}"} if suffix else {"Fn::GetAtt": [name, "Arn"]}

    def target_resources(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name in sorted(self.targets):
            kind = self.targets[name]
            if kind == "sqs":
                # Failed events wait here for up to 14 days; deleting the stack deletes them.
                result[name] = {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
                                "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}}
            elif kind == "sns":
                result[name] = {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": f"cryptoalerts {name}"}}
            elif kind == "eventbridge":
                result[name] = {"Type": "AWS::Events::EventBus", "Properties": {
                    "Name": {"Fn::Sub": f"${{AWS::StackName}}-{name}"}}}
            elif kind == "s3":
                result[name] = {
                    "Type": "AWS::S3::Bucket",
                    "DeletionPolicy": "Retain",
                    "UpdateReplacePolicy": "Retain",
                    "Properties": {
                        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                        "PublicAccessBlockConfiguration": {
                            "BlockPublicAcls": True, "BlockPublicPolicy": True,
                            "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                    },
                }
        return result


def _table_resource(spec: Mapping[str, Any]) -> dict[str, Any]:
    """CreateTable keyword arguments (+ ``TimeToLiveAttribute``) as an ``AWS::DynamoDB::Table``.

    The table is always on-demand, encrypted, with point-in-time recovery, and kept
    (``Retain``) when the stack is deleted or the table replaced: it holds the alerts.
    """
    known = {"TableName", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode",
             "ProvisionedThroughput", "StreamSpecification", "SSESpecification", "TimeToLiveAttribute",
             *_TABLE_PASSTHROUGH}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValidationError("table_spec", unknown[0], "not a CreateTable argument the template emitter maps")
    props: dict[str, Any] = {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [dict(a) for a in spec["AttributeDefinitions"]],
        "KeySchema": [dict(k) for k in spec["KeySchema"]],
    }
    if spec.get("GlobalSecondaryIndexes"):
        props["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k not in ("ProvisionedThroughput", "OnDemandThroughput")}
            for gsi in spec["GlobalSecondaryIndexes"]
        ]
    for key in _TABLE_PASSTHROUGH:
        if key in spec:
            props[key] = spec[key]
    stream = spec.get("StreamSpecification")
    if stream and stream.get("StreamEnabled", True):
        props["StreamSpecification"] = {"StreamViewType": stream["StreamViewType"]}
    sse = spec.get("SSESpecification") or {}
    props["SSESpecification"] = {"SSEEnabled": True, **{k: v for k, v in sse.items() if k != "Enabled"}}
    props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    if spec.get("TimeToLiveAttribute"):
        props["TimeToLiveSpecification"] = {"AttributeName": spec["TimeToLiveAttribute"], "Enabled": True}
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": props}


def _code(options: TemplateOptions) -> Any:
    if options.code_uri is None:
        return {"S3Bucket": {"Ref": "CodeS3Bucket"}, "S3Key": {"Ref": "CodeS3Key"}}
    if options.code_uri.startswith("s3://"):
        bucket, _, key = options.code_uri[5:].partition("/")
        return {"S3Bucket": bucket, "S3Key": key}
    return options.code_uri


def _statements(spec: FunctionSpec, stack: _Resources) -> list[dict[str, Any]]:
    log_group = f"{spec.name}LogGroup"
    statements: list[dict[str, Any]] = [{
        "Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
    }]
    for index, perm in enumerate(spec.permissions, 1):
        statements.append(_statement(f"Use{perm.resource}{index}", perm, stack))
    statements.extend(
        {"Sid": f"Invoke{target}", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": stack.arn(target)}
        for target in spec.invokes
    )
    for which, dest in (("OnSuccess", spec.on_success), ("OnFailure", spec.on_failure)):
        if dest is None:
            continue
        for index, (action, suffix) in enumerate(DESTINATION_ACTIONS[dest.kind]):
            statements.append({"Sid": f"Deliver{which}{index or ''}", "Effect": "Allow", "Action": action,
                               "Resource": stack.arn(dest.target, suffix)})
    return statements


def _statement(sid: str, perm: Permission, stack: _Resources) -> dict[str, Any]:
    actions = list(dict.fromkeys(perm.actions))
    return {"Sid": sid, "Effect": "Allow", "Action": actions if len(actions) > 1 else actions[0],
            "Resource": stack.arn(perm.resource, perm.suffix)}


def _env_value(value: str) -> Any:
    return {"Ref": value[4:]} if value.startswith("ref:") else value


def _function_resources(
    spec: FunctionSpec, reserved: int | None, stack: _Resources, options: TemplateOptions
) -> dict[str, Any]:
    name = spec.name
    role, log_group = f"{name}Role", f"{name}LogGroup"
    props: dict[str, Any] = {
        "Description": spec.description or f"cryptoalerts {name}",
        "Runtime": f"python{options.python}",
        "Architectures": [options.architecture],
        "Handler": spec.handler,
        "Code": _code(options),
        "MemorySize": spec.memory_mb,
        "Timeout": spec.timeout_s,
        "Role": {"Fn::GetAtt": [role, "Arn"]},
        "LoggingConfig": {"LogGroup": {"Ref": log_group}},
    }
    if reserved is not None:
        props["ReservedConcurrentExecutions"] = reserved
    if spec.environment:
        props["Environment"] = {"Variables": {k: _env_value(v) for k, v in sorted(spec.environment.items())}}
    resources: dict[str, Any] = {
        log_group: {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
                    "Properties": {"RetentionInDays": options.log_retention_days}},
        role: {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": f"{name}Policy", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": _statements(spec, stack)}}],
        }},
        name: {"Type": "AWS::Lambda::Function", "Properties": props},
    }
    if spec.on_success or spec.on_failure or name in stack.invoked_async:
        config: dict[str, Any] = {
            "FunctionName": {"Ref": name}, "Qualifier": "$LATEST",
            "MaximumRetryAttempts": spec.max_retry_attempts, "MaximumEventAgeInSeconds": spec.max_event_age_s,
        }
        destinations = {which: {"Destination": stack.arn(dest.target)}
                        for which, dest in (("OnSuccess", spec.on_success), ("OnFailure", spec.on_failure)) if dest}
        if destinations:
            config["DestinationConfig"] = destinations
        resources[f"{name}EventInvokeConfig"] = {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": config}
    return resources


def _route_resources(spec: FunctionSpec) -> dict[str, Any]:
    """HTTP API integration (payload format 2.0, set explicitly), route and invoke permission."""
    name = spec.name
    method, _, path = str(spec.http_route).partition(" ")
    source_method = "*" if method == "ANY" else method
    return {
        f"{name}Integration": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "ApiId": {"Ref": _API}, "IntegrationType": "AWS_PROXY",
            "IntegrationUri": {"Fn::GetAtt": [name, "Arn"]}, "PayloadFormatVersion": "2.0"}},
        f"{name}Route": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "ApiId": {"Ref": _API}, "RouteKey": spec.http_route,
            "Target": {"Fn::Sub": f"integrations/${{{name}Integration}}"}}},
        f"{name}ApiPermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": [name, "Arn"]},
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                                     f"${{{_API}}}/*/{source_method}{path}"}}},
    }
