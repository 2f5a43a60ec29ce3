"""HTML form posts validated into pydantic models, with errors by field for re-rendering.

Empty inputs count as "not given" (the field's default, or "required"); fields declared
as lists take every value of a repeated input (checkboxes, multi-selects).
"""

from __future__ import annotations

from typing import Any, TypeVar, get_args, get_origin

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

F = TypeVar("F", bound="Form")


class Form(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v not in ("", [])}
        return data


class FormErrors(Exception):
    """Invalid input: the messages by field name ("" for the form as a whole)."""

    def __init__(self, errors: dict[str, str], values: dict[str, Any]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.values = values


async def read(request: web.Request, form: type[F]) -> F:
    return _validate(await request.post(), form)


def read_query(request: web.Request, form: type[F]) -> F:
    """A GET form (a page's filters): the query string, validated like a post."""
    return _validate(request.query, form)


def _validate(posted: MultiMapping[Any], form: type[F]) -> F:
    values: dict[str, Any] = {}
    for name, field in form.model_fields.items():
        if _is_list(field.annotation):
            values[name] = [v for v in posted.getall(name, []) if isinstance(v, str) and v]
        elif isinstance(posted.get(name), str):
            values[name] = posted[name]
    try:
        return form.model_validate(values)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            errors.setdefault(name, _message(error))
        raise FormErrors(errors, values) from None


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(get_origin(arg) is list for arg in get_args(annotation))


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "This field is required."
    message = str(error["msg"])
    return message.removeprefix("Value error, ")
