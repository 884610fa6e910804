"""`confide.core.nesting`: nesting is measured before a parser recurses into it (SEC3)."""

from __future__ import annotations

import json
import tomllib

import pytest

from confide.core.nesting import JSON_MAX_DEPTH, TOML_MAX_DEPTH, TooDeeplyNested, check_json_text, check_toml_text, check_value


def test_json_at_the_limit_passes_and_one_more_level_is_refused_with_its_line():
    at_limit = "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH
    check_json_text(at_limit)
    json.loads(at_limit)
    with pytest.raises(TooDeeplyNested) as refused:
        check_json_text('{\n"a":\n' + "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH + "}")
    assert (str(refused.value), refused.value.line) == ("JSON nested deeper than the limit of 64 levels", 3)


def test_brackets_inside_json_strings_do_not_count_escaped_quotes_included():
    check_json_text(json.dumps({"a": "[" * 1000, "b": '\\"[[[' * 100, "c": [{"d": "{{{{"}]}).encode())


def test_toml_arrays_inline_tables_and_headers_count_and_strings_and_comments_do_not():
    check_toml_text('a = "[[[[[[[[[[[[[[[[[[[[" # {{{{{{{{{{{{{{{{{{{{{{{{\nb = \'[[[[[[[[[[[[[[[[[[\'\nc = """\n[[[[[[[[[[[[[[[[[[\n"""\n')
    check_toml_text("[[questions]]\nchoices = [" + "[" * (TOML_MAX_DEPTH - 1) + "]" * (TOML_MAX_DEPTH - 1) + "]\n")
    with pytest.raises(TooDeeplyNested) as refused:
        check_toml_text("x = 1\ny = " + "{ a = " * (TOML_MAX_DEPTH + 1) + "1" + " }" * (TOML_MAX_DEPTH + 1))
    assert (str(refused.value), refused.value.line) == ("TOML nested deeper than the limit of 16 levels", 2)


def test_a_parsed_value_is_walked_without_recursion_and_the_path_says_where():
    deep = tomllib.loads("a" + ".b" * 5000 + " = 1\n")  # no brackets at all: only the value shows it
    check_toml_text("a" + ".b" * 5000 + " = 1\n")
    with pytest.raises(TooDeeplyNested) as refused:
        check_value(deep, limit=TOML_MAX_DEPTH, fmt="TOML")
    assert refused.value.path == ("a",) + ("b",) * (TOML_MAX_DEPTH - 1)
    check_value({"a": [{"b": [1]}]}, limit=4, fmt="TOML")
