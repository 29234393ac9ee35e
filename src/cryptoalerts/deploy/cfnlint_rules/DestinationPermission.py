"""E9101: a destination the source function's role may not reach with the right action."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule

from cryptoalerts.deploy.cfnlint_rules import SOURCE_URL, rule_matches
from cryptoalerts.deploy.checks import RULE_DESCRIPTIONS, check_destinations


class DestinationPermission(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type hints
    id = "E9101"
    shortdesc = RULE_DESCRIPTIONS[id]
    description = (
        "Lambda delivers async-invocation destinations with the SOURCE function's execution role: it needs "
        "lambda:InvokeFunction, sqs:SendMessage, sns:Publish, events:PutEvents or s3:PutObject+s3:ListBucket "
        "on the target."
    )
    source_url = SOURCE_URL
    tags = ("resources", "lambda", "iam", "cryptoalerts",)  # cfn-lint only iterates it

    def match(self, cfn: Any) -> list[Any]:
        return rule_matches(check_destinations(cfn.template), self.id)
