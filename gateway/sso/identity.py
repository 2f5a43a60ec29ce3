"""Who an identity provider says signed in: what the console uses, whatever the protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Identity:
    email: str
    groups: tuple[str, ...]
    subject: str  # the provider's own id for the person (`sub`, or the SAML NameID)

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()

    def as_json(self) -> dict[str, Any]:
        return {"email": self.email, "groups": list(self.groups), "subject": self.subject}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Identity:
        return cls(str(value["email"]), tuple(value["groups"]), str(value["subject"]))


def group_names(value: Any) -> tuple[str, ...]:
    """A groups claim or attribute: a list of names, or one name alone."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(item for item in value if isinstance(item, str))
    return ()
