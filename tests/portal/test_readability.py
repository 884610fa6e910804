"""Plain language (issue 14, item 7): the main portal pages read at grade 8 or below
(Flesch-Kincaid, confide/portal/readability.py), for the patient and for a parent or guardian."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from confide.portal import readability
from tests.portal_world import portal_sign_in

MAX_GRADE = 8


def _pages():
    names = ["portal:home", "portal:privacy"]
    for optional in ("portal:record", "portal:account"):  # pages other parts of the issue add
        try:
            reverse(optional)
        except NoReverseMatch:
            continue
        names.append(optional)
    return names


def test_the_grade_formula_and_syllables_behave():
    assert readability.syllables("information") == 4 and readability.syllables("open") == 2 and readability.syllables("care") == 1
    assert readability.grade("The cat sat. The dog ran.") < 1
    hard = ("Notwithstanding the aforementioned considerations, individuals exercising administrative responsibilities "
            "systematically substantiate organizational accountability mechanisms.")  # fmt: skip
    assert readability.grade(hard) > 16
    assert readability.main_text("<header>Skip</header><main><h1>Hi</h1><p>One. Two<script>x()</script></p></main>") == "Hi\nOne. Two"
    # Headings, labels and data values are fragments, not sentences; a long unpunctuated block counts.
    assert readability.sentences("Personal details\nSpirometry\nWe keep it safe. You can ask\none two three four five six") == [
        "We keep it safe", "one two three four five six",
    ]


@pytest.mark.parametrize("who", ["adult", "parent"])
def test_the_main_portal_pages_read_at_grade_eight_or_below(client, portal, who):
    person = getattr(portal, who)
    portal_sign_in(client, person.user)
    if who == "parent":
        client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    for name in _pages():
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        text = readability.main_text(response.content.decode())
        assert text, name
        level = readability.grade(text)
        assert level <= MAX_GRADE, f"{name}: grade {level:.1f}\n{text}"
