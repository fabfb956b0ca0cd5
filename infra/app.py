"""CDK entry point (cdk.json's "app"): ``cdk synth|deploy -c stage=dev|prod``."""

from __future__ import annotations

import aws_cdk as cdk

from infra.github_deploy_role import add_github_deploy_stack
from infra.nag import apply_nag_checks
from infra.settings import Settings
from infra.stack import UsersServiceStack


def build_app(context: dict[str, object] | None = None, *, outdir: str | None = None) -> cdk.App:
    """Create the app with its one stack; tests call this with their own context."""
    app = cdk.App(context=context, outdir=outdir)
    settings = Settings.from_context(app.node)
    stack = UsersServiceStack(
        app,
        settings.stack_name,
        settings=settings,
        description=f"Users service ({settings.stage}): HTTP API, Lambda, RDS PostgreSQL, S3",
    )
    apply_nag_checks(app, stack, settings)
    add_github_deploy_stack(app)
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
