"""POL3: the guide beside the override is generated from the declaration and the schema, so it
lists exactly what the loader accepts and the values now in force."""

from __future__ import annotations

from confide.policy.guide import build_guide
from confide.policy.loader import load_default, parse_override, resolve
from confide.policy.schema import ProcessorOverride


def test_pol3_the_guide_lists_the_declarations_processors_rules_floors_regimes_and_contacts():
    default = load_default()
    guide = build_guide(default)
    assert [p.id for p in guide.processors] == [p.id for p in default.processors]
    assert [(r.id, r.period, r.minimum) for r in guide.retention] == [(r.id, r.period, r.minimum) for r in default.retention]
    assert guide.age_minimums == (13, 18) and guide.age_minimum == default.age.minimum
    assert [r.id for r in guide.regimes] == ["hipaa", "ccpa", "us_states", "gdpr"]
    assert [c.id for c in guide.contacts] == ["privacy_officer", "hipaa_compliance_officer", "dpo"]
    assert guide.contact_fields == ["name", "email", "phone"]
    assert set(guide.processor_fields) | {"id", "in_use", "baa_on_file", "trains_models"} == set(ProcessorOverride.model_fields)


def test_the_guide_shows_the_current_values_including_a_practices_own_processor():
    declaration = resolve(
        '[[processors]]\nid = "fax"\nname = "Fax line"\nservice = "Sends faxes."\nrole = "business_associate"\n'
        'categories = ["health.documents"]\npurposes = ["treatment"]\nbaa_on_file = true\nlocation = "United States"\nin_use = true\n'
        '[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n'
    )
    guide = build_guide(declaration)
    assert ("fax", True, True) in [(p.id, p.in_use, p.baa_on_file) for p in guide.processors]
    assert {r.id: r.period for r in guide.retention}["telehealth-recordings"] == "60d"


def test_the_guides_example_is_itself_a_valid_override():
    example = build_guide(load_default()).example.replace("…", "Pat")
    parse_override(example.replace('email = "Pat"', 'email = "pat@example.test"'))
    resolve(example.replace('email = "Pat"', 'email = "pat@example.test"'))
