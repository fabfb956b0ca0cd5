"""Synthesise the stack once per session (dev with its real bundle, prod without)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.node_banner import silence_node_end_of_life_banner

silence_node_end_of_life_banner()  # before the first aws_cdk import starts the jsii runtime

from aws_cdk import App, Stack  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.bundling import PROJECT_ROOT  # noqa: E402
from infra.stack import UsersServiceStack  # noqa: E402

TEST_ORIGINS = "https://app.example.com,https://admin.example.com"
PROD_AVAILABILITY_ZONES = ("us-east-1b", "us-east-1c")
ALARM_EMAIL = "oncall@example.com"


def cdk_json_context() -> dict[str, Any]:
    """The context the CDK CLI would pass: cdk.json's feature flags and defaults."""
    context: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: UsersServiceStack
    template: Template
    outdir: Path

    def logical_id(self, construct: Any) -> str:
        """Logical id of an L2 construct's CloudFormation resource (or of an L1 itself)."""
        element = getattr(construct.node, "default_child", None) or construct
        # Resolving a Ref honours overridden logical ids (the secret, function versions).
        return str(Stack.of(self.stack).resolve(element.ref)["Ref"])

    def resources(self, resource_type: str) -> dict[str, Any]:
        found: dict[str, Any] = self.template.find_resources(resource_type)
        return found


def synthesize(outdir: Path, **context: Any) -> Synthesized:
    app = build_app({**cdk_json_context(), **context}, outdir=str(outdir))
    stack = next(child for child in app.node.children if isinstance(child, UsersServiceStack))
    # Template.from_stack synthesises the app, which runs the cdk-nag validation plugin.
    template = Template.from_stack(stack)
    return Synthesized(app=app, stack=stack, template=template, outdir=outdir)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The dev stage as `make synth` builds it, Lambda bundle included."""
    return synthesize(tmp_path_factory.mktemp("cdk-dev"), stage="dev", allowedOrigins=TEST_ORIGINS)


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """prod with reserved concurrency, an alarm email, named zones and a quieter log level.

    Bundling is skipped (the asset is the same as dev's).
    """
    return synthesize(
        tmp_path_factory.mktemp("cdk-prod"),
        stage="prod",
        allowedOrigins=TEST_ORIGINS,
        reservedConcurrency="20",
        alarmEmail=ALARM_EMAIL,
        logLevel="WARNING",
        availabilityZones=",".join(PROD_AVAILABILITY_ZONES),
        **{"aws:cdk:bundling-stacks": []},
    )


@pytest.fixture(scope="session")
def aurora_dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """dev with -c database=aurora (bundling skipped: the asset is the same as dev's)."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-aurora-dev"),
        stage="dev",
        database="aurora",
        allowedOrigins=TEST_ORIGINS,
        **{"aws:cdk:bundling-stacks": []},
    )


@pytest.fixture(scope="session")
def aurora_prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """prod with -c database=aurora and its own capacity range."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-aurora-prod"),
        stage="prod",
        database="aurora",
        auroraMinAcu="1",
        auroraMaxAcu="16",
        allowedOrigins=TEST_ORIGINS,
        availabilityZones=",".join(PROD_AVAILABILITY_ZONES),
        **{"aws:cdk:bundling-stacks": []},
    )
