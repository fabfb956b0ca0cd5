"""Keep jsii's Node.js end-of-life banner out of the output of anything that imports the CDK."""

from __future__ import annotations

import os

BANNER_VARIABLE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
# Node majors the banner is silenced for: the machine's 20 and the ones after it.
QUIET_NODE_MAJORS = frozenset({"20", "22", "24"})


def silence_node_end_of_life_banner() -> None:
    """Add our Node majors to the variable; jsii reads it once, at the first aws_cdk import."""
    listed = {major for major in os.environ.get(BANNER_VARIABLE, "").split(",") if major}
    os.environ[BANNER_VARIABLE] = ",".join(sorted(listed | QUIET_NODE_MAJORS))
