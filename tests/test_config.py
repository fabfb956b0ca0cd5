"""Settings: read from the environment and `.env` as pydantic-settings read them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import SecretStr, ValidationError

from lambda_app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# What the reader hands pydantic as a string (anything else but a list is not read).
SCALARS = {str, int, float, bool, SecretStr, type(None)}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable of any setting, in either case."""
    for variable in list(os.environ):
        if variable.lower() in _every_variable():
            monkeypatch.delenv(variable)
    return monkeypatch


def _every_variable() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None)
        names.update(str(choice).lower() for choice in choices or [name])
    return names


def test_every_setting_has_a_type_the_reader_knows() -> None:
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if get_origin(annotation) is list:
            assert get_args(annotation) == (str,), name
        else:
            assert set(get_args(annotation) or (annotation,)) <= SCALARS, name


def test_a_variable_sets_its_setting_in_either_case(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("DB_PORT", "5433")
    clean_environment.setenv("db_name", "lower")

    settings = Settings(_env_file=None)

    assert (settings.db_port, settings.db_name) == (5433, "lower")


def test_the_first_alias_set_wins(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    assert Settings(_env_file=None).aws_region == "eu-west-2"

    clean_environment.setenv("AWS_REGION", "eu-west-1")
    assert Settings(_env_file=None).aws_region == "eu-west-1"


def test_a_list_is_json(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("CORS_ALLOWED_ORIGINS", '["https://a.example","https://b.example"]')
    assert Settings(_env_file=None).cors_allowed_origins == [
        "https://a.example",
        "https://b.example",
    ]

    clean_environment.setenv("CORS_ALLOWED_ORIGINS", "https://a.example")
    with pytest.raises(ValueError, match="cors_allowed_origins"):
        Settings(_env_file=None)


def test_values_are_validated_and_secrets_kept_secret(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("APP_DB_PASSWORD", "s3cret")
    settings = Settings(_env_file=None)
    assert settings.app_db_password == SecretStr("s3cret")
    assert "s3cret" not in repr(settings)

    clean_environment.setenv("DB_PORT", "70000")
    with pytest.raises(ValidationError, match="db_port"):
        Settings(_env_file=None)


def test_the_environment_wins_over_dot_env_and_arguments_over_both(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dot_env = tmp_path / ".env"
    dot_env.write_text("LOG_LEVEL=WARNING\nAWS_REGION=ap-south-1\nDB_HOST\nUNKNOWN=1\nDB_NAME=\n")
    clean_environment.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    clean_environment.setenv("STAGE", "prod")

    settings = Settings(_env_file=dot_env, stage="test")

    assert settings.log_level == "WARNING"
    # A setting the environment sets, under any of its names, is not read from .env.
    assert settings.aws_region == "eu-west-2"
    assert settings.stage == "test"
    # A bare name sets nothing; an empty value is the empty string.
    assert (settings.db_host, settings.db_name) == (None, "")


def test_settings_are_frozen() -> None:
    settings = Settings(_env_file=None)

    with pytest.raises(ValidationError):
        settings.log_level = "DEBUG"  # type: ignore[misc]


def test_reading_the_environment_imports_no_settings_library(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from lambda_app.config import get_settings\n"
        "get_settings()\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in "
        "('pydantic_settings', 'dotenv')))\n"
    )
    # In a folder without .env: only a local run's .env loads its parser.
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "[]"
