"""``cryptoalerts template``, ``check`` and ``package``: the deployment commands.

``template`` emits the stack from the handlers' ``DEPLOY`` declarations, ``check``
runs the project's deployment checks on any template (the ones cfn-lint does not
make), ``package`` builds the Lambda zip and a template pointing at it. cfn-lint,
pyyaml and pip are imported inside the commands, never at ``--help`` time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cryptoalerts.cli import UsageError

__all__ = ["register"]

_DECLARED = object()  # default of the concurrency flags (not a string: argparse would parse it)
_CONCURRENCY_FLAGS = {"PriceWebhookProcessor": "--webhook-concurrency", "AlertMatcher": "--matcher-concurrency"}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _concurrency(text: str) -> int | None:
    return None if text.lower() == "none" else _positive(text)


def _add_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account-limit", type=_positive, default=1000, metavar="N",
                        help="the account's concurrent executions quota (default 1000)")
    parser.add_argument("--unreserved-floor", type=_positive, default=100, metavar="N",
                        help="executions Lambda keeps unreserved (default 100; low-quota accounts: 10 or 50)")
    parser.add_argument("--reserved-elsewhere", type=_positive, default=0, metavar="N",
                        help="concurrency already reserved by other functions of the account (default 0)")


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", choices=("arm64", "x86_64"), default="arm64", help="default arm64")
    parser.add_argument("--python", default="3.12", metavar="X.Y", help="Lambda Python runtime (default 3.12)")
    parser.add_argument("--handlers-dir", metavar="DIR",
                        help="handler files (default: the checkout's adapters/lambda, else the installed copy)")


def _add_concurrency(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webhook-concurrency", type=_concurrency, default=_DECLARED, metavar="N|none",
                        help="reserved concurrency of PriceWebhookProcessor (default: its DEPLOY, 10)")
    parser.add_argument("--matcher-concurrency", type=_concurrency, default=_DECLARED, metavar="N|none",
                        help="reserved concurrency of AlertMatcher (default: its DEPLOY, 5)")
    _add_limits(parser)


def register(subparsers: Any) -> None:
    template = subparsers.add_parser("template", help="emit the CloudFormation stack from the handlers' DEPLOY")
    template.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    template.add_argument("--format", choices=("json", "yaml"), default=None,
                          help="default: from --out's extension, else json")
    _add_target(template)
    _add_concurrency(template)
    template.add_argument("--code-uri", metavar="PATH|s3://BUCKET/KEY",
                          help="the deployment zip (default: CodeS3Bucket/CodeS3Key parameters)")
    template.set_defaults(func=_template)

    check = subparsers.add_parser("check", help="run the deployment checks cfn-lint lacks on any template")
    check.add_argument("template", nargs="?", metavar="TEMPLATE", help="a CloudFormation template, JSON or YAML")
    _add_limits(check)
    check.add_argument("--rules-dir", action="store_true",
                       help="print the folder of the same checks as cfn-lint rules (cfn-lint -a DIR) and exit")
    check.set_defaults(func=_check)

    package = subparsers.add_parser("package", help="build the Lambda zip and a template that points at it")
    _add_target(package)
    _add_concurrency(package)
    package.add_argument("--out", required=True, metavar="DIR", help="output folder")
    package.set_defaults(func=_package)


def _options(args: argparse.Namespace, code_uri: str | None) -> Any:
    from cryptoalerts.deploy.checks import AccountLimits
    from cryptoalerts.deploy.template import TemplateOptions

    concurrency = {}
    for name, flag in _CONCURRENCY_FLAGS.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not _DECLARED:
            concurrency[name] = value
    labels = {**_CONCURRENCY_FLAGS, "account_limit": "--account-limit", "unreserved_floor": "--unreserved-floor"}
    return TemplateOptions(
        architecture=args.arch,
        python=args.python,
        concurrency=concurrency,
        limits=_limits(args, AccountLimits),
        code_uri=code_uri,
        labels=labels,
    )


def _limits(args: argparse.Namespace, cls: Any) -> Any:
    return cls(account_limit=args.account_limit, unreserved_floor=args.unreserved_floor,
               reserved_elsewhere=args.reserved_elsewhere)


def _build(args: argparse.Namespace, code_uri: str | None) -> dict[str, Any]:
    from cryptoalerts.aws._dynamodb_items import table_spec  # pure data: no SDK import
    from cryptoalerts.deploy.handlers import load_specs
    from cryptoalerts.deploy.template import build_template

    return build_template(load_specs(args.handlers_dir), table_spec("AlertsTable"), _options(args, code_uri))


def _template(args: argparse.Namespace) -> int:
    from cryptoalerts.deploy.template import dump_template

    fmt = args.format or ("yaml" if args.out and Path(args.out).suffix in (".yaml", ".yml") else "json")
    text = dump_template(_build(args, args.code_uri), fmt)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _check(args: argparse.Namespace) -> int:
    from cryptoalerts.deploy.cfnlint_rules import RULES_DIR

    if args.rules_dir:
        print(RULES_DIR)
        return 0
    if not args.template:
        raise UsageError("give a TEMPLATE to check (or --rules-dir)")
    from cryptoalerts.deploy.checks import AccountLimits, check_template

    findings = check_template(read_template(args.template), _limits(args, AccountLimits))
    for finding in findings:
        print(f"{args.template}: {finding}")
    if findings:
        return 1
    print(f"{args.template}: passes the cryptoalerts deployment checks (E9101-E9104)")
    return 0


def read_template(path: str) -> Any:
    """A template as cfn-lint reads it (JSON or YAML, short-form tags resolved)."""
    try:
        from cfnlint.decode import decode
    except ImportError as exc:
        raise UsageError(f"reading templates needs cfn-lint: pip install 'cryptoalerts[deploy]' ({exc})") from exc
    if not Path(path).is_file():
        raise UsageError(f"{path}: no such file")
    template, matches = decode(path)
    if matches or template is None:
        raise UsageError(f"{path}: not a readable template: {'; '.join(m.message for m in matches)}")
    return template


def _package(args: argparse.Namespace) -> int:
    from cryptoalerts.deploy.package import LAMBDA_ZIPPED_LIMIT, build_package
    from cryptoalerts.deploy.template import dump_template

    out = Path(args.out)
    # Emit the template first: a setting it rejects should fail before minutes of pip.
    _build(args, "placeholder.zip")
    result = build_package(out, architecture=args.arch, python=args.python, handlers=args.handlers_dir)
    template_path = out / "template.json"
    template_path.write_text(dump_template(_build(args, result.zip_path.name), "json"), encoding="utf-8")
    print(result.report())
    print(f"{template_path}: Code points at {result.zip_path.name}; deploy with `aws cloudformation package "
          f"--template-file {template_path} --s3-bucket BUCKET` then `aws cloudformation deploy`")
    if result.zipped_bytes > LAMBDA_ZIPPED_LIMIT:
        print("warning: over the 50 MB direct-upload limit; upload through S3 (aws cloudformation package does)",
              file=sys.stderr)
    return 0
