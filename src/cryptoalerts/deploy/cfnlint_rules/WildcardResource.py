"""E9104: ``Resource: "*"`` in an IAM statement whose actions could name their resources."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule

from cryptoalerts.deploy.cfnlint_rules import SOURCE_URL, rule_matches
from cryptoalerts.deploy.checks import RULE_DESCRIPTIONS, check_wildcard_resources


class WildcardResource(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type hints
    id = "E9104"
    shortdesc = RULE_DESCRIPTIONS[id]
    description = (
        "Least privilege: an Allow statement with Resource '*' for actions that support resource-level "
        "permissions should name the resources instead."
    )
    source_url = SOURCE_URL
    tags = ("resources", "iam", "cryptoalerts",)  # cfn-lint only iterates it

    def match(self, cfn: Any) -> list[Any]:
        return rule_matches(check_wildcard_resources(cfn.template), self.id)
