"""E9102: an EventInvokeConfig CloudFormation may create before its destination permission."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule

from cryptoalerts.deploy.cfnlint_rules import SOURCE_URL, rule_matches
from cryptoalerts.deploy.checks import RULE_DESCRIPTIONS, check_destinations


class InvokeConfigOrdering(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type hints
    id = "E9102"
    shortdesc = RULE_DESCRIPTIONS[id]
    description = (
        "Lambda checks destination permissions when the EventInvokeConfig is created; a grant in a separate "
        "AWS::IAM::Policy must be a dependency (DependsOn) of the EventInvokeConfig, or be inline in the role."
    )
    source_url = SOURCE_URL
    tags = ("resources", "lambda", "iam", "cryptoalerts",)  # cfn-lint only iterates it

    def match(self, cfn: Any) -> list[Any]:
        return rule_matches(check_destinations(cfn.template), self.id)
