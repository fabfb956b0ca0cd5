"""cfn-lint finds nothing in the synthesized templates (dev, prod, the GitHub deploy roles)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.app import build_app
from infra.bundling import PROJECT_ROOT
from tests.infra.conftest import Synthesized, cdk_json_context

CONFIG = PROJECT_ROOT / "infra" / "cfn-lint.yaml"


def _lint(*templates: Path) -> subprocess.CompletedProcess[str]:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    command = [str(cfn_lint), "--config-file", str(CONFIG), *map(str, templates)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def github_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk-github-lint")
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], "githubRepository": "o/r"}
    build_app(context, outdir=str(outdir)).synth()
    return outdir / "UsersService-GitHubDeploy.template.json"


def test_the_synthesized_templates_pass_cfn_lint(
    dev: Synthesized,
    prod: Synthesized,
    aurora_dev: Synthesized,
    aurora_prod: Synthesized,
    github_template: Path,
) -> None:
    templates = [dev.outdir / "UsersService-dev.template.json"]
    templates += [prod.outdir / "UsersService-prod.template.json", github_template]
    templates += [
        aurora_dev.outdir / "UsersService-dev.template.json",
        aurora_prod.outdir / "UsersService-prod.template.json",
    ]
    result = _lint(*templates)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_reports_a_broken_template(tmp_path: Path) -> None:
    """The check can fail: a property CloudFormation does not know is an error."""
    template = tmp_path / "broken.template.json"
    template.write_text(
        '{"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"Nope": 1}}}}'
    )
    result = _lint(template)
    assert result.returncode != 0
    assert "E3002" in result.stdout
