"""A browser without a browser: an aiohttp client with a cookie jar that reads pages with
BeautifulSoup and submits forms the way a browser does (with the page's CSRF token)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from bs4 import BeautifulSoup

from tests.admin_api.world import PASSWORD


@dataclass
class Page:
    status: int
    url: str
    html: BeautifulSoup
    headers: Any

    def text(self) -> str:
        return self.html.get_text(" ", strip=True)

    def form(self, action: str) -> dict[str, str]:
        """The current values of the form posting to `action`, hidden fields included."""
        form = self.html.find("form", action=action)
        assert form is not None, f"no form posting to {action} on {self.url}"
        values: dict[str, str] = {}
        for field in form.find_all(["input", "select", "textarea"]):
            name = field.get("name")
            if not name or (
                field.get("type") in ("checkbox", "radio") and not field.has_attr("checked")
            ):
                continue
            if field.name == "select":
                chosen = field.find("option", selected=True) or field.find("option")
                values[name] = chosen.get("value", chosen.text) if chosen else ""
            else:
                values[name] = field.get("value", field.text if field.name == "textarea" else "")
        return values

    def errors(self) -> list[str]:
        return [e.get_text(strip=True) for e in self.html.select(".error")]


class Console:
    def __init__(self, root: str) -> None:
        self.root = root
        self.session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies for 127.0.0.1
        )
        self.csrf = ""

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, **kwargs: Any) -> Page:
        return await self._page("GET", path, **kwargs)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> Page:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return await self._page("POST", path, data=body, **kwargs)

    async def submit(self, page: Page, action: str, **changes: Any) -> Page:
        """Posts the form on `page` as a user would, after typing `changes` into it."""
        return await self.post(action, page.form(action) | changes, csrf=False)

    async def sign_in(self, email: str, password: str = PASSWORD) -> Page:
        login = await self.get("/admin/login")
        return await self.submit(login, "/admin/login", email=email, password=password)

    async def _page(self, method: str, path: str, **kwargs: Any) -> Page:
        kwargs.setdefault("allow_redirects", True)
        async with self.session.request(method, self.root + path, **kwargs) as response:
            html = BeautifulSoup(await response.text(), "html.parser")
            token = html.find("input", attrs={"name": "csrf_token"})
            if token is not None:
                self.csrf = str(token.get("value", ""))
            return Page(response.status, str(response.url), html, response.headers)
