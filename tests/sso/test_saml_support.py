"""Whether SAML is available: the libraries' absence is reported with the reason and the
fix, never raised."""

from __future__ import annotations

import sys

import pytest

from gateway.sso import saml_support


def test_available_where_the_libraries_load() -> None:
    assert saml_support.problem() is None


@pytest.mark.parametrize("missing", ["xmlsec", "onelogin"], ids=["xmlsec", "python3-saml"])
def test_a_missing_library_is_named_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    for name in [n for n in sys.modules if n == missing or n.startswith(missing + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)  # what an absent package looks like
    problem = saml_support.problem()
    assert problem is not None
    assert f"({missing}" in problem and "is missing" in problem
    assert "pip install 'model-bridge[saml]'" in problem
