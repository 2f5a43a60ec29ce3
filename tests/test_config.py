"""Config validation: every kind of bad file is named precisely and exits non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_routing_config

GOOD_ROUTING = """
providers:
  openai: {adapter: openai, api_base: https://api.openai.com/v1, api_key: ${TEST_OPENAI_KEY}}
models:
  gpt-4o-mini:
    deployments:
      - {provider: openai, model: gpt-4o-mini, weight: 1, price: {input: 0.15, output: 0.60}}
"""


def check_config(tmp_path: Path, gateway: str, routing: str, **env: str) -> tuple[int, str]:
    (tmp_path / "gateway.yaml").write_text(gateway)
    (tmp_path / "routing.yaml").write_text(routing)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "check-config",
            "--config",
            str(tmp_path / "gateway.yaml"),
            "--routing",
            str(tmp_path / "routing.yaml"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=30,
        cwd=Path(__file__).parent.parent,
    )
    return result.returncode, result.stdout + result.stderr


def test_good_config_exits_zero(tmp_path: Path) -> None:
    code, out = check_config(
        tmp_path, "server: {port: 9000}\n", GOOD_ROUTING, TEST_OPENAI_KEY="sk-x"
    )
    assert code == 0, out
    assert "1 providers, 1 models" in out


@pytest.mark.parametrize(
    ("gateway", "routing", "expected"),
    [
        (
            "server: {port: abc}\n",
            GOOD_ROUTING,
            "gateway.yaml: server.port: Input should be a valid integer",
        ),
        ("server: {prot: 1}\n", GOOD_ROUTING, "gateway.yaml: server.prot: unknown key"),
        ("server: [1\n", GOOD_ROUTING, "gateway.yaml: not valid YAML"),
        ("- a list\n", GOOD_ROUTING, "gateway.yaml: expected a mapping at the top level"),
        ("logging: {level: LOUD}\n", GOOD_ROUTING, "logging.level: Input should be 'DEBUG'"),
        (
            "admin: {public_url: 'ftp://gw.example'}\n",
            GOOD_ROUTING,
            "gateway.yaml: admin.public_url: URL scheme should be 'http' or 'https'",
        ),
        (
            "",
            GOOD_ROUTING.replace("adapter: openai", "adapter: nope"),
            "providers.openai.adapter: unknown adapter 'nope'",
        ),
        (
            "",
            GOOD_ROUTING.replace("{provider: openai", "{provider: ghost"),
            "models.gpt-4o-mini.deployments.0.provider: unknown provider 'ghost'",
        ),
        (
            "",
            GOOD_ROUTING.replace("weight: 1", "weight: -1"),
            "models.gpt-4o-mini.deployments.0.weight: Input should be greater than 0",
        ),
        (
            "",
            GOOD_ROUTING.replace("api_base: https://api.openai.com/v1, ", ""),
            "providers.openai.api_base: required for adapter openai",
        ),
        (
            "",
            GOOD_ROUTING.replace("${TEST_OPENAI_KEY}", "${TEST_UNSET_VAR}"),
            "providers.openai.api_key: environment variable TEST_UNSET_VAR is not set",
        ),
        ("", "providers: {}\n", "models: Field required"),
        (
            "",
            GOOD_ROUTING.replace("https://api.openai.com/v1", "api.openai.com/v1"),
            "providers.openai.api_base: String should match pattern",
        ),
        (
            "",
            GOOD_ROUTING.replace("${TEST_OPENAI_KEY}", '"sk-x\\n"'),
            "providers.openai.api_key: Value error, contains a line break",
        ),
        (
            "",
            GOOD_ROUTING.replace("api_key:", 'headers: {X-Org: "a\\r\\nX-Evil: 1"}, api_key:'),
            "providers.openai.headers: Value error, the value of X-Org contains a line break",
        ),
        (
            "",
            GOOD_ROUTING.replace("api_key:", "headers: {'X Org': a}, api_key:"),
            "providers.openai.headers: Value error, 'X Org' is not a valid header name",
        ),
    ],
    ids=[
        "wrong-type",
        "unknown-key",
        "bad-yaml",
        "not-mapping",
        "bad-enum",
        "bad-public-url",
        "unknown-adapter",
        "dangling-provider",
        "bad-weight",
        "missing-api-base",
        "missing-env",
        "missing-section",
        "api-base-not-a-url",
        "key-with-newline",
        "header-with-newline",
        "bad-header-name",
    ],
)
def test_bad_config_is_named_and_fails(
    tmp_path: Path, gateway: str, routing: str, expected: str
) -> None:
    code, out = check_config(tmp_path, gateway, routing, TEST_OPENAI_KEY="sk-x")
    assert code == 1
    assert expected in out
    assert "Traceback" not in out


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    routing = GOOD_ROUTING.replace("api_key: ${TEST_OPENAI_KEY}", "api_key: [sk-leaky-secret]")
    code, out = check_config(tmp_path, "", routing)
    assert code == 1
    assert "providers.openai.api_key" in out
    assert "sk-leaky-secret" not in out


def test_serve_with_bad_config_exits_nonzero_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "gateway.yaml").write_text("server: {port: 0}\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(tmp_path / "gateway.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 1
    assert "server.port: Input should be greater than or equal to 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "providers: {a: {adapter: nope}}\n"
        "models: {m: {deployments: [{provider: ghost, model: x}]}}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_routing_config(path)
    assert len(raised.value.problems) == 2
