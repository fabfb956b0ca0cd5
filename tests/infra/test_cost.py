"""python -m infra.cost runs, and docs/cost.md carries exactly the table it prints (make docs)."""

from __future__ import annotations

import subprocess
import sys

from infra import cost
from infra.bundling import PROJECT_ROOT
from tests.infra.conftest import Synthesized
from tools import blocks, docs

DOC = PROJECT_ROOT / "docs" / "cost.md"


def test_the_script_prints_both_options_at_every_load() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.cost"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    for line in ("instance total per month", "aurora   total per month", "Crossover:"):
        assert line in result.stdout
    assert "per million requests" in result.stdout


def test_the_doc_table_is_the_scripts_output() -> None:
    table = blocks.bodies(DOC.read_text()).get(docs.COST_SOURCE)
    assert table is not None, f"docs/cost.md has no block of {docs.COST_SOURCE}"
    assert table == cost.markdown(cost.measured_duration_ms()), "docs/cost.md is stale: make docs"
    assert DOC not in docs.stale()


def test_the_database_grows_with_the_load_and_aurora_never_pauses() -> None:
    duration = cost.measured_duration_ms()
    assert cost.instance_class(1, duration)[0] == "t4g.micro"
    assert cost.instance_class(500, duration)[0] != "t4g.micro"
    assert cost.aurora_acus(1) == cost.AURORA_MIN_ACU > 0
    assert cost.aurora_acus(500) > cost.aurora_acus(1)


def test_every_price_names_its_source() -> None:
    for name, price in cost.PRICES.items():
        assert price.source.startswith(("https://", "infra/DEPLOY.md")), name
        assert price.confirmed or "verify" in price.source, name


def test_the_counted_parts_are_the_stacks(prod: Synthesized, aurora_prod: Synthesized) -> None:
    for option, stack in (("instance", prod), ("aurora", aurora_prod)):
        endpoints = stack.resources("AWS::EC2::VPCEndpoint").values()
        interface = [e for e in endpoints if e["Properties"].get("VpcEndpointType") == "Interface"]
        for subnets in (e["Properties"]["SubnetIds"] for e in interface):
            assert len(subnets) == cost.ENDPOINT_ZONES, option
        assert len(interface) == len(cost.INTERFACE_ENDPOINTS), option
        assert len(stack.resources("AWS::CloudWatch::Alarm")) == cost.ALARMS[option], option
        assert len(stack.resources("AWS::SecretsManager::Secret")) == cost.SECRETS, option
