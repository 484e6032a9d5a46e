"""Record: the read-only plans routes and parameters are made of."""

from __future__ import annotations

import pytest

from micropie_core import App
from micropie_core._records import Record


class Point(Record):
    x: int
    label: str


def test_fields_are_set_by_keyword_and_shown_in_the_repr() -> None:
    point = Point(x=1, label="a")
    assert (point.x, point.label) == (1, "a")
    assert repr(point) == "Point(x=1, label='a')"


def test_a_record_is_read_only() -> None:
    point = Point(x=1, label="a")
    with pytest.raises(AttributeError, match="Point is read-only: cannot set 'x'"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete 'label'"):
        del point.label
    with pytest.raises(AttributeError):
        point.other = 3
    assert point.x == 1


def test_a_missing_or_unknown_field_names_the_fields_it_takes() -> None:
    with pytest.raises(TypeError, match=r"Point\(\) takes the fields x, label by keyword; got x"):
        Point(x=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="got x, label, y"):
        Point(x=1, label="a", y=2)  # type: ignore[call-arg]


def test_an_apps_routes_are_read_only_records() -> None:
    class Hello(App):
        async def greet(self, name: str) -> str:
            return f"Hello, {name}!"

    route = Hello()._routes["greet"]
    assert isinstance(route, Record)
    assert route.params[0].name == "name"
    with pytest.raises(AttributeError, match="Route is read-only"):
        route.function = print  # type: ignore[misc]
