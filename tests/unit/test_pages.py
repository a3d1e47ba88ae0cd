"""What the HTML edges share (app/pages.py): one `safe_next` for the store and the portal, one `sentence`."""

from __future__ import annotations

import pytest

from app.pages import safe_next, sentence

STORE, PORTAL = "/s/acme/", "/portal/"


@pytest.mark.parametrize("inside", [STORE, PORTAL])
def test_a_path_inside_the_area_is_kept_with_its_query(inside):
    assert safe_next(f"{inside}orders?page=2", inside=inside, home="HOME") == f"{inside}orders?page=2"
    assert safe_next(inside.rstrip("/"), inside=inside, home="HOME") == inside.rstrip("/")


@pytest.mark.parametrize("inside", [STORE, PORTAL])
@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/s/acme/",
        "/s/other/",
        "/portal-evil/",
        "/\\evil.example",
        "/s/acme/%2e%2e/other/",
        "/portal/%2e%2e/team",
        "/portal/../s/other/",
        "javascript:alert(1)",
    ],
)
def test_anything_else_lands_on_home(inside, target):
    assert safe_next(target, inside=inside, home="HOME") == "HOME"


def test_one_area_is_not_the_other():
    assert safe_next("/portal/team", inside=STORE, home="HOME") == "HOME"
    assert safe_next("/s/acme/orders", inside=PORTAL, home="HOME") == "HOME"


def test_a_service_message_reads_as_a_sentence():
    assert sentence("amount must be at least $5.00") == "Amount must be at least $5.00."
    assert sentence("Already done!") == "Already done!"
