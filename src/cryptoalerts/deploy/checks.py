"""Deployment checks that cfn-lint does not make, on any CloudFormation template.

Two real deployments of this stack failed in ways cfn-lint accepts: a destination the
source function's role was not allowed to reach (Lambda delivers every destination
with the *source* function's execution role, and checks that right when the
``AWS::Lambda::EventInvokeConfig`` is created), and reserved concurrency that left the
account fewer unreserved executions than Lambda keeps back. This module holds the one
implementation of each check; ``cryptoalerts check``, the template emitter and the
cfn-lint custom rules in :mod:`cryptoalerts.deploy.cfnlint_rules` all call it.

The checks read a decoded template (a plain ``dict`` as from ``json.load``, or
cfn-lint's decoder output, which also resolves YAML short-form tags). References are
followed through ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` and ``Fn::Join``; ARNs are
compared field by field, with IAM wildcards in the policy and the template's own
pseudo parameters (account, region, partition) standing for any value. What cannot be
resolved (``Fn::If``, ``Fn::ImportValue``, a role outside the template) is not
guessed at: the check stays silent rather than report a false failure.

Rule ids (also the cfn-lint custom rule ids):

- ``E9101`` a destination the source role may not reach with the right action;
- ``E9102`` an EventInvokeConfig CloudFormation may create before its permission;
- ``E9103`` reserved concurrency leaving fewer unreserved executions than Lambda keeps;
- ``E9104`` ``Resource: "*"`` where the actions allow naming the resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "DESTINATION_ACTIONS",
    "RULE_DESCRIPTIONS",
    "AccountLimits",
    "Finding",
    "check_destinations",
    "check_reserved_concurrency",
    "check_template",
    "check_wildcard_resources",
]

Path = tuple[str | int, ...]

RULE_DESCRIPTIONS: dict[str, str] = {
    "E9101": "Destination not reachable by the source function's role",
    "E9102": "EventInvokeConfig may be created before its destination permission",
    "E9103": "Reserved concurrency leaves too few unreserved executions",
    "E9104": "Wildcard resource where the resource can be named",
}

# What a destination of each kind needs in the SOURCE function's role, as
# (action, suffix appended to the target ARN). AWS-CONTRACT.md section 2.
DESTINATION_ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "lambda": (("lambda:InvokeFunction", ""),),
    "sqs": (("sqs:SendMessage", ""),),
    "sns": (("sns:Publish", ""),),
    "eventbridge": (("events:PutEvents", ""),),
    "s3": (("s3:PutObject", "/*"), ("s3:ListBucket", "")),
}

_KIND_BY_TYPE = {
    "AWS::Lambda::Function": "lambda",
    "AWS::SQS::Queue": "sqs",
    "AWS::SNS::Topic": "sns",
    "AWS::Events::EventBus": "eventbridge",
    "AWS::S3::Bucket": "s3",
}
_KIND_BY_SERVICE = {"lambda": "lambda", "sqs": "sqs", "sns": "sns", "events": "eventbridge", "s3": "s3"}

# Rendering tokens. They contain no ":" so ARNs still split into their fields.
_PSEUDO = {
    "AWS::Partition": "<Partition>",
    "AWS::Region": "<Region>",
    "AWS::AccountId": "<AccountId>",
    "AWS::URLSuffix": "<URLSuffix>",
    "AWS::StackName": "<StackName>",
    "AWS::StackId": "<StackId>",
}
_ANY_VALUE_TOKENS = frozenset({"<Partition>", "<Region>", "<AccountId>"})
_TOKEN = re.compile(r"<(?:name|ref|attr)=([^>]+)>|<(Partition|Region|AccountId|URLSuffix|StackName|StackId)>")

_NAME_PROPERTY = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Events::EventBus": "Name",
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
}
_ARN_PREFIX = {
    "AWS::Lambda::Function": "arn:<Partition>:lambda:<Region>:<AccountId>:function:",
    "AWS::SQS::Queue": "arn:<Partition>:sqs:<Region>:<AccountId>:",
    "AWS::SNS::Topic": "arn:<Partition>:sns:<Region>:<AccountId>:",
    "AWS::Events::EventBus": "arn:<Partition>:events:<Region>:<AccountId>:event-bus/",
    "AWS::S3::Bucket": "arn:<Partition>:s3:::",
    "AWS::DynamoDB::Table": "arn:<Partition>:dynamodb:<Region>:<AccountId>:table/",
    "AWS::Logs::LogGroup": "arn:<Partition>:logs:<Region>:<AccountId>:log-group:",
    "AWS::IAM::Role": "arn:<Partition>:iam::<AccountId>:role/",
}
_ARN_SUFFIX = {"AWS::Logs::LogGroup": ":*"}
# What ``Ref`` returns, where it is not the physical name.
_REF_IS_ARN = frozenset({"AWS::SNS::Topic", "AWS::IAM::ManagedPolicy"})
_ARN_ATTRIBUTES = frozenset({"Arn", "TopicArn"})

_FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy")

# Actions that support no resource-level permissions, so ``Resource: "*"`` is the
# only way to grant them (from the IAM Service Authorization Reference). Anything
# not listed is treated as nameable: a false report costs a look, a missed one
# costs least privilege.
_UNSCOPED_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSampling*",
    "cloudwatch:PutMetricData",
    "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics",
    "logs:DescribeLogGroups",
    "ec2:Describe*",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "sts:GetCallerIdentity",
    "s3:ListAllMyBuckets",
    "sqs:ListQueues",
    "sns:ListTopics",
    "lambda:ListFunctions",
    "lambda:GetAccountSettings",
    "dynamodb:ListTables",
    "dynamodb:DescribeLimits",
    "dynamodb:DescribeEndpoints",
    "secretsmanager:ListSecrets",
    "secretsmanager:GetRandomPassword",
    "kms:ListKeys",
    "kms:ListAliases",
    "ssm:DescribeParameters",
    "events:ListEventBuses",
    "tag:GetResources",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One failed check: the rule id, the logical id it is about, what is missing."""

    rule: str
    resource: str
    message: str
    path: Path

    def __str__(self) -> str:
        return f"{self.rule} {self.resource}: {self.message}"


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """What the template cannot see: the account's concurrency quota and its floor.

    Lambda keeps ``unreserved_floor`` executions unreserved (100 in a normal
    account; new or low-quota accounts report 10 or 50), so reservations may total
    at most ``account_limit - unreserved_floor - reserved_elsewhere``. Read the
    real values with ``aws lambda get-account-settings``.
    """

    account_limit: int = 1000
    unreserved_floor: int = 100
    reserved_elsewhere: int = 0

    @property
    def reservable(self) -> int:
        return self.account_limit - self.unreserved_floor - self.reserved_elsewhere


def check_template(template: Mapping[str, Any], limits: AccountLimits | None = None) -> list[Finding]:
    """Run every check; an empty list means the template passes."""
    return [
        *check_destinations(template),
        *check_reserved_concurrency(template, limits or AccountLimits()),
        *check_wildcard_resources(template),
    ]


# --------------------------------------------------------------------------- stack


class _Stack:
    """Resolves references inside one template (resources and parameters)."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        resources = template.get("Resources")
        parameters = template.get("Parameters")
        self.resources: dict[str, Mapping[str, Any]] = {
            str(k): v for k, v in (resources or {}).items() if isinstance(v, Mapping)
        }
        self.parameters: dict[str, Mapping[str, Any]] = {
            str(k): v for k, v in (parameters or {}).items() if isinstance(v, Mapping)
        }
        self._deps: dict[str, set[str]] = {}

    def type_of(self, logical_id: str) -> str:
        return str(self.resources.get(logical_id, {}).get("Type", ""))

    def props(self, logical_id: str) -> Mapping[str, Any]:
        value = self.resources.get(logical_id, {}).get("Properties")
        return value if isinstance(value, Mapping) else {}

    def of_type(self, *types: str) -> Iterator[str]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in types:
                yield logical_id

    # -- rendering: intrinsic functions to one comparable string ---------------

    def name(self, logical_id: str) -> str:
        """The physical name: the name property when rendered, else a token."""
        prop = _NAME_PROPERTY.get(self.type_of(logical_id))
        if prop is not None and prop in self.props(logical_id):
            rendered = self.render(self.props(logical_id)[prop])
            if rendered is not None:
                return rendered
        return f"<name={logical_id}>"

    def arn(self, logical_id: str) -> str | None:
        rtype = self.type_of(logical_id)
        if rtype in _ARN_PREFIX:
            return _ARN_PREFIX[rtype] + self.name(logical_id) + _ARN_SUFFIX.get(rtype, "")
        return None

    def ref(self, target: str) -> str:
        if target in _PSEUDO:
            return _PSEUDO[target]
        if target in self.parameters:
            default = self.parameters[target].get("Default")
            return f"<ref={target}>" if default is None else str(default)
        rtype = self.type_of(target)
        if rtype in _REF_IS_ARN:
            return self.arn(target) or f"<ref={target}>"
        if rtype in _NAME_PROPERTY:
            return self.name(target)
        return f"<ref={target}>"

    def getatt(self, target: str, attribute: str) -> str:
        if attribute in _ARN_ATTRIBUTES:
            arn = self.arn(target)
            if arn is not None:
                return arn
        return f"<attr={target}.{attribute}>"

    def render(self, value: Any) -> str | None:
        """A string with tokens for what is unknown before deployment; None if unresolvable."""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, Mapping) or len(value) != 1:
            return None
        ((fn, arg),) = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return self.ref(arg)
        if fn == "Fn::GetAtt":
            parts = _getatt_parts(arg)
            return None if parts is None else self.getatt(*parts)
        if fn == "Fn::Sub":
            return self._render_sub(arg)
        if fn == "Fn::Join" and isinstance(arg, Sequence) and len(arg) == 2:
            delimiter, items = arg
            if not isinstance(delimiter, str) or not isinstance(items, Sequence) or isinstance(items, str):
                return None
            rendered = [self.render(item) for item in items]
            if any(part is None for part in rendered):
                return None
            return delimiter.join(part for part in rendered if part is not None)
        return None

    def _render_sub(self, arg: Any) -> str | None:
        variables: Mapping[str, Any] = {}
        if isinstance(arg, Sequence) and not isinstance(arg, str) and len(arg) == 2:
            arg, variables = arg
            if not isinstance(variables, Mapping):
                return None
        if not isinstance(arg, str):
            return None
        failed = False

        def replace(match: re.Match[str]) -> str:
            nonlocal failed
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                rendered = self.render(variables[name])
            elif "." in name and name not in _PSEUDO:
                rendered = self.getatt(*name.split(".", 1))
            else:
                rendered = self.ref(name)
            if rendered is None:
                failed = True
                return ""
            return rendered

        result = re.sub(r"\$\{([^}]+)\}", replace, arg)
        return None if failed else result

    # -- dependencies ------------------------------------------------------------

    def dependencies(self, logical_id: str) -> set[str]:
        """Every resource ``logical_id`` waits for, directly or transitively."""
        if logical_id not in self._deps:
            seen: set[str] = set()
            todo = [logical_id]
            while todo:
                current = todo.pop()
                for dep in self._direct_dependencies(current):
                    if dep not in seen:
                        seen.add(dep)
                        todo.append(dep)
            self._deps[logical_id] = seen
        return self._deps[logical_id]

    def _direct_dependencies(self, logical_id: str) -> set[str]:
        resource = self.resources.get(logical_id, {})
        found: set[str] = set()
        depends_on = resource.get("DependsOn")
        for dep in [depends_on] if isinstance(depends_on, str) else depends_on or []:
            found.add(str(dep))
        _collect_references(resource.get("Properties"), found)
        return {dep for dep in found if dep in self.resources}

    # -- functions, roles and their statements ----------------------------------

    def function_for(self, value: Any) -> str | None:
        """The template function an EventInvokeConfig's ``FunctionName`` names."""
        if isinstance(value, Mapping) and len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref" and isinstance(arg, str) and self.type_of(arg) in _FUNCTION_TYPES:
                return arg
            parts = _getatt_parts(arg) if fn == "Fn::GetAtt" else None
            if parts is not None and self.type_of(parts[0]) in _FUNCTION_TYPES:
                return parts[0]
        rendered = self.render(value)
        if rendered is None:
            return None
        unqualified = _strip_qualifier(rendered)
        for function in self.of_type("AWS::Lambda::Function"):
            if rendered == self.name(function) or _arn_matches(self.arn(function) or "", unqualified):
                return function
        return None

    def role_for(self, function: str) -> str | None:
        value = self.props(function).get("Role")
        if isinstance(value, Mapping) and len(value) == 1:
            ((fn, arg),) = value.items()
            parts = _getatt_parts(arg) if fn == "Fn::GetAtt" else None
            if parts is not None and self.type_of(parts[0]) == "AWS::IAM::Role":
                return parts[0]
        rendered = self.render(value)
        if rendered is None:
            return None
        for role in self.of_type("AWS::IAM::Role"):
            if _arn_matches(self.arn(role) or "", rendered):
                return role
        return None

    def statements_of_role(self, role: str) -> Iterator[tuple[str, Mapping[str, Any], Path]]:
        """(granting resource, statement, path) for every statement that applies to ``role``."""
        for index, policy in enumerate(_as_list(self.props(role).get("Policies"))):
            if isinstance(policy, Mapping):
                base: Path = ("Resources", role, "Properties", "Policies", index, "PolicyDocument")
                yield from ((role, s, p) for s, p in _statements(policy.get("PolicyDocument"), base))
        attached = {
            ref for ref in (_ref_target(v) for v in _as_list(self.props(role).get("ManagedPolicyArns"))) if ref
        }
        for policy in self.of_type(*_POLICY_TYPES):
            props = self.props(policy)
            roles = _as_list(props.get("Roles")) + ([props["RoleName"]] if "RoleName" in props else [])
            if policy in attached or any(self._names_role(value, role) for value in roles):
                base = ("Resources", policy, "Properties", "PolicyDocument")
                yield from ((policy, s, p) for s, p in _statements(props.get("PolicyDocument"), base))

    def _names_role(self, value: Any, role: str) -> bool:
        if _ref_target(value) == role:
            return True
        rendered = self.render(value)
        return rendered is not None and rendered == self.name(role)

    def destination_kind(self, value: Any) -> str | None:
        target = _ref_target(value)
        if target is not None and target in self.resources:
            return _KIND_BY_TYPE.get(self.type_of(target))
        rendered = self.render(value)
        fields = rendered.split(":", 5) if rendered else []
        if len(fields) == 6 and fields[0] == "arn":
            return _KIND_BY_SERVICE.get(fields[2])
        return None


def _getatt_parts(arg: Any) -> tuple[str, str] | None:
    if isinstance(arg, str) and "." in arg:
        target, attribute = arg.split(".", 1)
        return target, attribute
    if isinstance(arg, Sequence) and len(arg) == 2 and all(isinstance(part, str) for part in arg):
        return str(arg[0]), str(arg[1])
    return None


def _ref_target(value: Any) -> str | None:
    """The logical id a ``Ref``/``Fn::GetAtt`` points at, else None."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return arg
        if fn == "Fn::GetAtt":
            parts = _getatt_parts(arg)
            return None if parts is None else parts[0]
    return None


def _collect_references(value: Any, found: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                parts = _getatt_parts(item)
                if parts is not None:
                    found.add(parts[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, Sequence) and not isinstance(item, str) and item else item
                if isinstance(text, str):
                    found.update(m.split(".", 1)[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text))
            _collect_references(item, found)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            _collect_references(item, found)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [value]


def _statements(document: Any, base: Path) -> Iterator[tuple[Mapping[str, Any], Path]]:
    if not isinstance(document, Mapping):
        return
    statement = document.get("Statement")
    if isinstance(statement, Mapping):
        yield statement, (*base, "Statement")
        return
    for index, item in enumerate(_as_list(statement)):
        if isinstance(item, Mapping):
            yield item, (*base, "Statement", index)


# --------------------------------------------------------------------------- matching


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    """IAM wildcards: ``*`` any run of characters (``/`` and ``:`` too), ``?`` one."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _glob_matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    return _glob(pattern).fullmatch(value) is not None


def _arn_matches(pattern: str, arn: str) -> bool:
    """Whether an IAM ``Resource`` pattern covers ``arn``.

    Partition, region and account fields given as the template's pseudo parameters
    match any value on the other side: they are filled in at deploy time.
    """
    if _glob_matches(pattern, arn):
        return True
    p_fields, a_fields = pattern.split(":", 5), arn.split(":", 5)
    if len(p_fields) != 6 or len(a_fields) != 6 or p_fields[0] != "arn" or a_fields[0] != "arn":
        return False
    for index in (1, 2, 3, 4):
        p, a = p_fields[index], a_fields[index]
        if p in _ANY_VALUE_TOKENS or a in _ANY_VALUE_TOKENS:
            continue
        if not _glob_matches(p, a):
            return False
    return _glob_matches(p_fields[5], a_fields[5])


def _strip_qualifier(arn: str) -> str:
    fields = arn.split(":")
    if len(fields) == 8 and fields[0] == "arn" and fields[5] == "function":
        return ":".join(fields[:7])
    return arn


def _allows(stack: _Stack, statement: Mapping[str, Any], action: str, arn: str) -> bool:
    """Whether ``statement`` names ``action`` on ``arn`` (its Effect is read by the caller)."""
    actions = [stack.render(a) for a in _as_list(statement.get("Action"))]
    if not any(a is not None and _glob_matches(a, action, ignore_case=True) for a in actions):
        return False
    resources = [stack.render(r) for r in _as_list(statement.get("Resource"))]
    return any(r is not None and _arn_matches(r, arn) for r in resources)


def _display(rendered: str) -> str:
    """A rendered string shown the way a template author would write it (``Fn::Sub`` form)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return "${" + match.group(1) + "}"
        return "${AWS::" + match.group(2) + "}"

    return _TOKEN.sub(replace, rendered)


# --------------------------------------------------------------------------- checks


def check_destinations(template: Mapping[str, Any]) -> list[Finding]:
    """E9101 and E9102 for every ``AWS::Lambda::EventInvokeConfig`` in the template.

    For each destination, the source function's role must allow the destination
    kind's action(s) on the target (``DESTINATION_ACTIONS``), through its inline
    policies or an ``AWS::IAM::Policy``/``ManagedPolicy``/``RolePolicy`` attached to
    it, with no ``Deny`` overriding. If the grant lives only in separate policy
    resources, the EventInvokeConfig must depend on one of them (``DependsOn``,
    directly or through what it references), or CloudFormation may create it first.
    """
    stack = _Stack(template)
    findings: list[Finding] = []
    for config in stack.of_type("AWS::Lambda::EventInvokeConfig"):
        props = stack.props(config)
        destinations = props.get("DestinationConfig")
        if not isinstance(destinations, Mapping):
            continue
        function = stack.function_for(props.get("FunctionName"))
        role = stack.role_for(function) if function else None
        for which in ("OnSuccess", "OnFailure"):
            block = destinations.get(which)
            if not isinstance(block, Mapping) or "Destination" not in block:
                continue
            path: Path = ("Resources", config, "Properties", "DestinationConfig", which, "Destination")
            findings.extend(_check_destination(stack, config, which, block["Destination"], function, role, path))
    return findings


def _check_destination(
    stack: _Stack, config: str, which: str, value: Any, function: str | None, role: str | None, path: Path
) -> Iterator[Finding]:
    kind = stack.destination_kind(value)
    target = stack.render(value)
    if kind is None or target is None:
        return
    described = _ref_target(value) or _display(target)
    if kind == "s3" and which == "OnSuccess":
        yield Finding("E9101", config, f"OnSuccess destination {described} is an S3 bucket; Lambda supports "
                      "S3 buckets only as OnFailure destinations", path)
        return
    if function is None or role is None:
        return  # the function or its role is outside the template: nothing to verify against
    statements = list(stack.statements_of_role(role))
    waits_for = stack.dependencies(config)
    for action, suffix in DESTINATION_ACTIONS[kind]:
        arn = target + suffix
        denied = any(
            s.get("Effect") == "Deny" and _allows(stack, s, action, arn) for _, s, _ in statements
        )
        grants = sorted(
            {src for src, s, _ in statements if s.get("Effect") == "Allow" and _allows(stack, s, action, arn)}
        )
        if denied or not grants:
            reason = "a Deny statement blocks it" if denied else "no statement of the role's policies allows it"
            yield Finding(
                "E9101", config,
                f"{which} destination {described} ({kind}) needs {action} on {_display(arn)} in the execution "
                f"role {role} of {function}, but {reason}; Lambda delivers destinations with the source "
                "function's role",
                path,
            )
        elif role not in grants and not waits_for.intersection(grants):
            yield Finding(
                "E9102", config,
                f"{which} destination {described}: {action} is granted only by {', '.join(grants)}, which {config} "
                f"does not depend on, so CloudFormation may create {config} first and Lambda rejects it; add "
                f"DependsOn: {grants[0]} or put the statement inline in {role}'s Policies",
                ("Resources", config),
            )


def _reserved(stack: _Stack, function: str) -> int | None:
    value = stack.props(function).get("ReservedConcurrentExecutions")
    rendered = stack.render(value) if value is not None else None
    if rendered is None or not rendered.isdigit():
        return None
    return int(rendered)


def check_reserved_concurrency(template: Mapping[str, Any], limits: AccountLimits) -> list[Finding]:
    """E9103: the template's reservations must leave Lambda its unreserved floor.

    A reservation given by a parameter counts with the parameter's ``Default``; one
    that cannot be resolved is left out of the sum. The finding points at the
    largest reservation, the one most worth lowering.
    """
    stack = _Stack(template)
    reserved = {f: r for f in stack.of_type(*_FUNCTION_TYPES) if (r := _reserved(stack, f)) is not None}
    total = sum(reserved.values())
    if not reserved or total <= limits.reservable:
        return []
    largest = max(reserved, key=lambda f: (reserved[f], f))
    parts = ", ".join(f"{f} {r}" for f, r in sorted(reserved.items(), key=lambda item: (-item[1], item[0])))
    elsewhere = f" plus {limits.reserved_elsewhere} reserved elsewhere" if limits.reserved_elsewhere else ""
    unreserved = limits.account_limit - total - limits.reserved_elsewhere
    return [
        Finding(
            "E9103", largest,
            f"reserved concurrency totals {total} ({parts}){elsewhere}, leaving {unreserved} unreserved of "
            f"account limit {limits.account_limit}; Lambda keeps at least {limits.unreserved_floor} unreserved, "
            f"so reservations may total at most {max(limits.reservable, 0)} (set the account limit and floor "
            "from `aws lambda get-account-settings`)",
            ("Resources", largest, "Properties", "ReservedConcurrentExecutions"),
        )
    ]


def _policy_documents(stack: _Stack) -> Iterator[tuple[str, Any, Path]]:
    for role in stack.of_type("AWS::IAM::Role"):
        for index, policy in enumerate(_as_list(stack.props(role).get("Policies"))):
            if isinstance(policy, Mapping):
                path: Path = ("Resources", role, "Properties", "Policies", index, "PolicyDocument")
                yield role, policy.get("PolicyDocument"), path
    for policy in stack.of_type(*_POLICY_TYPES):
        yield policy, stack.props(policy).get("PolicyDocument"), ("Resources", policy, "Properties", "PolicyDocument")


def check_wildcard_resources(template: Mapping[str, Any]) -> list[Finding]:
    """E9104: an Allow statement with ``Resource: "*"`` for actions that can be scoped.

    Actions with no resource-level permissions (``_UNSCOPED_ACTIONS``, e.g.
    ``xray:PutTraceSegments``) may keep ``*``; any other action must name its
    resources. Only the template's own policies are read.
    """
    stack = _Stack(template)
    findings = []
    for owner, document, base in _policy_documents(stack):
        for statement, path in _statements(document, base):
            if statement.get("Effect") != "Allow" or "*" not in _as_list(statement.get("Resource")):
                continue
            actions = [a for a in (stack.render(x) for x in _as_list(statement.get("Action"))) if a is not None]
            nameable = [
                a for a in actions
                if not any(_glob_matches(u, a, ignore_case=True) for u in _UNSCOPED_ACTIONS)
            ]
            if nameable:
                findings.append(Finding(
                    "E9104", owner,
                    f"Resource \"*\" for {', '.join(nameable)}; name the resources (ARNs from Fn::GetAtt/Ref/Sub) "
                    "instead: these actions support resource-level permissions",
                    (*path, "Resource"),
                ))
    return findings
