"""Paths that must never leave the directories, sent raw to a real uvicorn.

Every refusal is the same 404 as a missing file: the status, the headers and
the body tell a client nothing about what exists.
"""

from __future__ import annotations

import pytest

from tests.static.conftest import Tree, raw_get, serve
from tests.support import UvicornProcess

TRAVERSALS = [
    "/static/../secret.txt",
    "/static/css/../../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/..%2Fsecret.txt",
    "/static/css/..%2f..%2fsecret.txt",
    "/static/%2e%2e%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..\\secret.txt",
    "/static/%252e%252e/secret.txt",   # double encoding stays a literal name
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/./hello.txt",
    "/static/hello.txt%00.png",
    "/static/hello.txt%00",
    "/static/C:%5cWindows%5cwin.ini",
]
REFUSED_EXISTING = [
    "/static/escape.txt",   # a symlink out of the directory
    "/static/.env",         # dotfiles
    "/static/nul.txt",      # a Windows device name, even where it is an ordinary file
    "/static/pipe",         # a FIFO would block the reader
    "/static/hello.txt.",   # Windows would open hello.txt
    "/static/hello.txt%20",
]
DEVICES = ["/static/CON", "/static/con.txt", "/static/AUX", "/static/COM1",
           "/static/lpt9.log", "/static/css/PRN"]


def not_found(server: UvicornProcess) -> tuple[int, dict[str, str], bytes]:
    return raw_get(server, "/static/missing-file.txt")


@pytest.mark.parametrize("target", TRAVERSALS + REFUSED_EXISTING + DEVICES)
def test_refused_like_a_missing_file(server: UvicornProcess, target: str) -> None:
    status, headers, body = raw_get(server, target)
    missing_status, missing_headers, missing_body = not_found(server)
    assert status == missing_status == 404, target
    assert body == missing_body and b"secret" not in body
    assert sorted(headers) == sorted(missing_headers)


def test_symlinks_inside_the_directory_are_served(server: UvicornProcess) -> None:
    assert raw_get(server, "/static/inside.txt")[2] == b"hello, world\n"


def test_follow_symlinks_lets_a_link_leave_the_directory_but_not_a_path(tree: Tree) -> None:
    with serve(tree, "static_symlinks", follow_symlinks=True) as server:
        assert raw_get(server, "/static/escape.txt")[2] == b"top secret"
        for target in TRAVERSALS:
            assert raw_get(server, target)[0] == 404, target


def test_outside_the_prefix_the_app_answers(server: UvicornProcess) -> None:
    status, _, body = raw_get(server, "/../static/hello.txt")
    assert status == 404 and body != b"hello, world\n"
