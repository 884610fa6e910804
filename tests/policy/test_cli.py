"""`confide policy check | versions | diff | publish`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from confide.core.permissions import Role

RECORDINGS_60 = '[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n'


def _run(*args) -> str:
    out = io.StringIO()
    call_command("policy", *args, stdout=out)
    return out.getvalue()


def test_check_the_default_and_a_good_override(tmp_path):
    assert _run("check").startswith("OK default declaration 2026.12: 39 categories")
    good = tmp_path / "override.toml"
    good.write_text(RECORDINGS_60)
    assert "OK" in _run("check", str(good))


def test_check_names_the_file_and_line_of_a_bad_override(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('# ours\n[[retention]]\nid = "backups"\nperiod = "1d"\n')
    with pytest.raises(CommandError, match=rf"{bad}, line 4: retention.0.period: period 1d is shorter than this rule's minimum 7d"):
        _run("check", str(bad))


def test_publish_versions_and_diff(world, tmp_path):
    override = tmp_path / "o.toml"
    override.write_text(RECORDINGS_60)
    officer = world.a.user(Role.PRIVACY_OFFICER).email
    slug = world.a.practice.slug
    published = _run("publish", "--practice", slug, "--override", str(override), "--effective", "2099-01-01",
                     "--summary", "Shorter recordings.", "--as", officer)  # fmt: skip
    assert published.splitlines() == [
        "published version 2 of a, effective 2099-01-01 00:00 UTC", "  ~ retention.telehealth-recordings.period: 90d -> 60d",
    ]  # fmt: skip
    assert _run("override", "--practice", slug) == RECORDINGS_60
    assert _run("override", "--practice", slug, "--version", "1").startswith("# version 1 is Confide's default")
    listing = _run("versions", "--practice", slug)
    assert "  1  effective" in listing and "IN FORCE" in listing.splitlines()[0] and "2099-01-01 00:00 UTC" in listing
    assert _run("diff", "--practice", slug, "1", "2").strip() == "~ retention.telehealth-recordings.period: 90d -> 60d"
    assert _run("diff", "--practice", slug, "default", "1").strip() == "no changes between default and 1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["diff", "--practice", "nope", "1", "2"], "no practice with slug 'nope'"),
        (["diff", "--practice", "a", "1", "7"], "practice a has no version 7"),
        (["diff", "--practice", "a", "one", "2"], "'one': a version number, or 'default'"),
        (["check", "/nonexistent/override.toml"], "cannot read /nonexistent/override.toml"),
    ],
)
def test_bad_arguments_are_clear_errors(world, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)


def test_publish_as_someone_who_may_not_is_refused(world, tmp_path):
    override = tmp_path / "o.toml"
    override.write_text(RECORDINGS_60)
    args = ["publish", "--practice", "a", "--override", str(override), "--effective", "2099-01-01", "--summary", "x"]
    with pytest.raises(CommandError, match="Forbidden"):
        _run(*args, "--as", world.a.user(Role.CLINICIAN).email)
    with pytest.raises(CommandError, match="not an active member of a"):
        _run(*args, "--as", world.b.owner.email)
    with pytest.raises(CommandError, match="--effective 'soon'"):
        _run(*args[:-4], "--effective", "soon", "--summary", "x", "--as", world.a.owner.email)
