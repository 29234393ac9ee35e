"""cfn-lint custom rules: the project's deployment checks for users who already run cfn-lint.

Run them with ``cfn-lint -a "$(cryptoalerts check --rules-dir)" template.yaml``. Each
file holds one rule class named like the file (cfn-lint's plugin loader requires it)
and only adapts :mod:`cryptoalerts.deploy.checks`, the one implementation that
``cryptoalerts check`` and the template emitter use too. Account limits for E9103 are
rule settings: ``--configure-rule E9103:account_limit=200 E9103:unreserved_floor=100``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptoalerts.deploy.checks import Finding

__all__ = ["RULES_DIR", "rule_matches"]

RULES_DIR = Path(__file__).resolve().parent
SOURCE_URL = "https://github.com/cryptoalerts/cryptoalerts/blob/main/docs/deploy.md"


def rule_matches(findings: Iterable[Finding], rule_id: str) -> list[Any]:
    """cfn-lint ``RuleMatch`` objects for the findings of one rule."""
    from cfnlint.rules import RuleMatch

    return [RuleMatch(list(f.path), f"{f.resource}: {f.message}") for f in findings if f.rule == rule_id]
