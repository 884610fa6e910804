"""The declaration is checked like code: a problem stops the load and names its line."""

from __future__ import annotations

import pytest

from confide.core.purposes import Purpose
from confide.policy.loader import DEFAULT_PATH, PolicyError, load_default, parse_declaration, resolve


def test_the_shipped_default_loads_and_declares_what_the_code_uses():
    declaration = load_default()
    assert set(declaration.purposes) == {p.value for p in Purpose}
    assert declaration.consent_purposes() == {"marketing", "analytics", "ai_assist"}
    assert {"health.psychotherapy_notes", "contact.email", "technical.usage", "preferences.consent"} <= set(declaration.categories)
    assert {g.split(".")[0] for g in declaration.categories} >= {"contact", "identifiers", "health", "financial", "technical", "preferences"}
    periods = {r.id: r.period for r in declaration.retention}
    assert periods == {
        "active-accounts": "while-active", "medical-records": "7y", "telehealth-recordings": "90d", "backups": "30d",
        "marketing": "until-unsubscribe", "consent-records": "6y", "security-records": "6y", "signin-attempts": "1d",
        "colleague-referrals": "30d",  # directory part (DIR3)
    }  # fmt: skip
    assert (declaration.age.minimum, declaration.age.guardian_until) == (18, 18)
    assert declaration.regimes.hipaa.access.respond_days == 30 and declaration.regimes.ccpa.respond_days == 45
    assert not any(p.baa_on_file for p in declaration.processors)  # nothing claims an agreement it cannot know of


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[age]\nminimum = 16\n", 2, "age.minimum: Input should be 13 or 18"),
        ("# a comment\nretension = []\n", 2, "retension: this key is not part of the declaration (a typo?)"),
        ('[[retention]]\nid = "telehealth-recordings"\nperiod = "soon"\n', 3, "retention.0.period: a period is"),
        ('[[retention]]\nid = "medical-records"\nperiod = "2y"\n', 3, "period 2y is shorter than this rule's minimum 6y"),
        ('[[retention]]\nid = "forever"\nperiod = "2y"\n', 2, "there is no retention rule 'forever'"),
        ('[[processors]]\nid = "sms"\n\ncategories = ["health.bogus"]\n', 4, "names an unknown data category 'health.bogus'"),
        ('[[processors]]\nid = "sms"\npurposes = ["sale"]\n', 3, "unknown purpose 'sale' (nothing in Confide sells data or trains models)"),
        ('[[processors]]\nid = "sms"\ntrains_models = true\n', 3, "processors.0.trains_models: Input should be False"),
        ('[[processors]]\nid = "payments"\ncategories = ["health"]\n', 3, "is a service provider, which never receives PHI"),
        ('[[processors]]\nid = "fax"\nname = "Fax"\n', 1, "a new processor 'fax' needs baa_on_file, categories"),
        ('[contacts.privacy_officer]\nname = "P"\nemail = "not-an-address"\n', 3, "contacts.privacy_officer.email: not an email address"),
        ('[regimes.hipaa]\nin_force = true\nrespond_days = 10\n', 3, "regimes.hipaa.respond_days: this key is not part of the declaration"),
        ("[age]\nminimum = \n", 2, "not valid TOML"),
    ],
)
def test_a_bad_override_is_refused_with_the_line_it_is_on(text, line, message):
    with pytest.raises(PolicyError) as caught:
        resolve(text)
    assert caught.value.line == line, str(caught.value)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"override, line {line}: ")


def test_a_second_array_table_is_found_at_its_own_line():
    text = '[[processors]]\nid = "sms"\nin_use = true\n\n[[processors]]\nid = "payments"\nin_use = "yes"\n'
    with pytest.raises(PolicyError) as caught:
        resolve(text)
    assert (caught.value.line, "processors.1.in_use" in str(caught.value)) == (7, True)


def test_a_declaration_with_a_purpose_that_sells_data_does_not_load():
    text = DEFAULT_PATH.read_text().replace("[purposes.legal]", '[purposes.sale]\nlabel = "Sale"\ndescription = "x"\n\n[purposes.legal]')
    with pytest.raises(PolicyError) as caught:
        parse_declaration(text)
    assert "'sale' is not a purpose Confide has" in str(caught.value)
    assert caught.value.line == text.splitlines().index("[purposes.sale]") + 1


def test_a_good_override_changes_exactly_what_it_says():
    declaration = resolve('[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n\n[age]\nminimum = 13\n')
    assert {r.id: r.period for r in declaration.retention}["telehealth-recordings"] == "60d"
    assert declaration.age.minimum == 13
    assert declaration.categories == load_default().categories


def test_an_override_that_is_too_big_is_refused():
    with pytest.raises(PolicyError, match="limited to 64 KiB"):
        resolve("# " + "x" * 70_000)


DEEP = 5000  # far past Python's recursion limit (1000): tomllib recursed until it blew


@pytest.mark.parametrize(
    "text",
    [
        "[age]\nminimum = " + "[" * DEEP + "]" * DEEP + "\n",
        "[age]\nminimum = " + "{ a = " * DEEP + "1" + " }" * DEEP + "\n",
        "[age]\nminimum = " + "[" * 40 + "]" * 40 + "\n",  # within Python's limit, past ours
        "[age]\nminimum" + ".a" * DEEP + " = 1\n",  # dotted keys nest without brackets
        "[" + ".".join(["age"] * DEEP) + "]\nminimum = 13\n",
    ],
    ids=["arrays", "inline-tables", "arrays-40", "dotted-keys", "table-header"],
)
def test_sec3_an_override_nested_deeper_than_the_limit_is_refused_naming_the_limit(text):
    with pytest.raises(PolicyError) as refused:
        resolve(text)
    assert refused.value.message == "not valid here: TOML nested deeper than the limit of 16 levels"
    assert refused.value.line in (1, 2)


def test_brackets_inside_strings_and_comments_are_not_nesting():
    text = '[contacts.privacy_officer]\nname = "[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{"  # [[[[[[[[[[[[[[[[[[[[[[\nemail = "p@example.test"\n'
    assert resolve(text).contacts.privacy_officer.name.startswith("[[[[")
