"""E9103: reserved concurrency leaving fewer unreserved executions than Lambda keeps."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule

from cryptoalerts.deploy.cfnlint_rules import SOURCE_URL, rule_matches
from cryptoalerts.deploy.checks import RULE_DESCRIPTIONS, AccountLimits, check_reserved_concurrency

_DEFAULTS = AccountLimits()


class ReservedConcurrency(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint ships no type hints
    id = "E9103"
    shortdesc = RULE_DESCRIPTIONS[id]
    description = (
        "The sum of ReservedConcurrentExecutions (plus reservations elsewhere in the account) must leave the "
        "account's unreserved floor (100 by default); configure account_limit, unreserved_floor and "
        "reserved_elsewhere with --configure-rule."
    )
    source_url = SOURCE_URL
    tags = ("resources", "lambda", "concurrency", "cryptoalerts",)  # cfn-lint only iterates it

    def __init__(self) -> None:
        super().__init__()
        self.config_definition = {
            "account_limit": {"default": _DEFAULTS.account_limit, "type": "integer"},
            "unreserved_floor": {"default": _DEFAULTS.unreserved_floor, "type": "integer"},
            "reserved_elsewhere": {"default": _DEFAULTS.reserved_elsewhere, "type": "integer"},
        }
        self.configure()

    def match(self, cfn: Any) -> list[Any]:
        limits = AccountLimits(
            account_limit=int(self.config["account_limit"]),
            unreserved_floor=int(self.config["unreserved_floor"]),
            reserved_elsewhere=int(self.config["reserved_elsewhere"]),
        )
        return rule_matches(check_reserved_concurrency(cfn.template, limits), self.id)
