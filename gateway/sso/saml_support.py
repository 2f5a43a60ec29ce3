"""Whether SAML sign-in is available here: python3-saml and xmlsec are an optional extra
(`pip install 'model-bridge[saml]'`), and xmlsec needs its native library. Without them
the settings page says why, and everything else works."""

from __future__ import annotations

import importlib
import logging

logger = logging.getLogger(__name__)

INSTALL_HINT = "install the `saml` extra: pip install 'model-bridge[saml]'"


def problem() -> str | None:
    """Why SAML cannot be used here, or None when it can."""
    try:
        for module in ("xmlsec", "onelogin.saml2.auth"):
            importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or str(exc)
        return f"the SAML libraries are not installed ({missing} is missing): {INSTALL_HINT}"
    # A native module fails to load in other ways too: xmlsec refuses to start when its
    # libxml2 differs from lxml's, with an error of its own.
    except Exception as exc:
        logger.warning("SAML is unavailable: %s", exc)
        return f"the SAML libraries failed to load ({exc}): {INSTALL_HINT}"
    return None
