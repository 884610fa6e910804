"""`local_path`: where a `next` may send the browser (a path on this site), and nowhere else."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from confide.core.http import local_path


@pytest.mark.parametrize(
    ("candidate", "under", "expected"),
    [
        ("/patients/?page=2", "/", "/patients/?page=2"),
        ("/p/demo/privacy/", "/p/demo/", "/p/demo/privacy/"),
        ("/p/other/privacy/", "/p/demo/", None),  # another practice's pages are not this one's
        ("https://evil.example/", "/", None),
        ("//evil.example/", "/", None),
        ("/\\evil.example/", "/", None),
        ("dashboard", "/", None),  # a bare word: redirect() would reverse it as a view name and fail
        ("a\x00b", "/", None),
        ("/patients/\r\nSet-Cookie: x=1", "/", None),
        ("", "/", None),
        (None, "/", None),
    ],
)
def test_only_a_path_on_this_site_is_a_place_to_go_next(candidate, under, expected):
    request = RequestFactory().get("/")
    assert local_path(request, candidate, under=under) == expected
