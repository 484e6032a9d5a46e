from __future__ import annotations

from collections.abc import Callable
from typing import Any

from micropie_core import App
from micropie_core.testing import TestClient

Client = Callable[..., TestClient]


class Root(App):
    async def index(self) -> str:
        return "Hello, World!"

    async def json(self) -> dict[str, str]:
        return {"message": "Hello, World!"}

    async def greet(self, name, greeting="Hello"):  # type: ignore[no-untyped-def]
        return f"{greeting}, {name}!"

    async def add(self, a: int, b: int = 1) -> dict[str, int]:
        return {"sum": a + b}

    async def typed(
        self, f: float, flag: bool, tags: list[str], raw: bytes = b""
    ) -> dict[str, Any]:
        return {"f": f, "flag": flag, "tags": tags, "raw": raw.decode()}

    async def optional(self, n: int | None = None) -> dict[str, Any]:
        return {"n": n}

    async def rest(self, first: str, *others: str, **extra: Any) -> dict[str, Any]:
        return {"first": first, "others": list(others), "extra": extra}

    async def kwonly(self, *, token: str) -> str:
        return token

    async def who(self, user: str = "anonymous") -> str:
        return user


def test_the_micropie_acceptance_app(client: Client) -> None:
    c = client(Root())
    assert c.get("/").text == "Hello, World!"
    assert c.get("/json").json() == {"message": "Hello, World!"}
    assert c.get("/greet/Ann?greeting=Hi").text == "Hi, Ann!"
    assert c.get("/add/2?b=3").json() == {"sum": 5}
    assert c.post("/add", json={"a": 4}).json() == {"sum": 5}
    bad = c.get("/add/x")
    assert bad.status_code == 400
    assert "'a'" in bad.text and "int" in bad.text
    assert c.get("/nope").status_code == 404
    assert c.get("/middlewares").status_code == 404


def test_binding_order_path_query_form_json(client: Client) -> None:
    c = client(Root())
    assert c.get("/greet/Path?name=Query").text == "Hello, Path!"
    assert c.post("/greet?name=Query", data={"name": "Form"}).text == "Hello, Query!"
    assert c.post("/greet", data={"name": "Form"}).text == "Hello, Form!"
    assert c.post("/greet", json={"name": "Json", "greeting": "Yo"}).text == "Yo, Json!"


def test_missing_required_parameter_is_400(client: Client) -> None:
    response = client(Root()).get("/greet")
    assert response.status_code == 400
    assert response.text == "400 Bad Request: Missing required parameter 'name'"


def test_typed_conversions(client: Client) -> None:
    c = client(Root())
    response = c.get("/typed/2.5?flag=yes&tags=a&tags=b&raw=xyz")
    assert response.json() == {"f": 2.5, "flag": True, "tags": ["a", "b"], "raw": "xyz"}
    assert c.post("/typed", json={"f": 1, "flag": False, "tags": ["x"]}).json() == {
        "f": 1.0, "flag": False, "tags": ["x"], "raw": ""}
    assert c.get("/optional").json() == {"n": None}
    assert c.get("/optional/7").json() == {"n": 7}


def test_bad_typed_values_name_parameter_and_type(client: Client) -> None:
    c = client(Root())
    cases = {
        "/typed/abc?flag=1&tags=a": ("'f'", "float"),
        "/typed/1?flag=maybe&tags=a": ("'flag'", "bool"),
        "/typed/nan?flag=1&tags=a": ("'f'", "float"),
        "/add/1_000": ("'a'", "int"),
        "/add/%201": ("'a'", "int"),
    }
    for path, (name, type_name) in cases.items():
        response = c.get(path)
        assert response.status_code == 400, path
        assert name in response.text and type_name in response.text, response.text
    json_bad = c.post("/add", json={"a": True})
    assert json_bad.status_code == 400 and "'a'" in json_bad.text
    json_list = c.post("/typed", json={"f": 1, "flag": True, "tags": "notalist"})
    assert json_list.status_code == 400 and "list[str]" in json_list.text


def test_star_args_and_kwargs(client: Client) -> None:
    response = client(Root()).post("/rest/a/b/c?x=1", json={"y": 2, "first": "ignored"})
    assert response.json() == {"first": "a", "others": ["b", "c"], "extra": {"x": "1", "y": 2}}


def test_keyword_only_parameter(client: Client) -> None:
    c = client(Root())
    assert c.get("/kwonly?token=t1").text == "t1"
    assert c.get("/kwonly").status_code == 400


def test_session_values_never_bind(client: Client) -> None:
    class Sessions(App):
        async def login(self) -> str:
            self.request.session["user"] = "admin"
            return "ok"

        async def who(self, user: str = "anonymous") -> str:
            return user

    c = client(Sessions())
    c.get("/login")
    assert c.get("/who").text == "anonymous"


def test_json_body_that_is_not_an_object_does_not_bind(client: Client) -> None:
    c = client(Root())
    assert c.post("/who", json=["user"]).text == "anonymous"
