import pytest

from migasfree_pyramid.domain.attributes import (
    ALL_SYSTEMS_VALUE,
    BASIC_PREFIXES,
    KINDS,
    SORTS,
    VALUE_LEN,
    AttributeValue,
    PropertyKind,
    PropertySort,
    basic_attribute_values,
    expand_attribute_values,
    expand_value,
    parse_prefixed_tag,
    split_value_description,
)


def test_kinds_and_sorts_match_the_stored_codes():
    assert KINDS == ("N", "-", "L", "R", "J")
    assert SORTS == ("basic", "client", "server")
    assert PropertyKind.ADDED_LEFT == "L"
    assert PropertySort.SERVER == "server"


# --- split_value_description -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", ("plain", None)),
        ("  padded  ", ("padded", None)),
        ("value~description", ("value", "description")),
        (" value ~ some text ", ("value", "some text")),
        ("a~b~c", ("a~b~c", None)),  # more than one tilde: no split
        ("~only description", ("", "only description")),
        ("value~", ("value", "")),
    ],
)
def test_split_value_description(raw, expected):
    result = split_value_description(raw)
    assert (result.value, result.description) == expected
    assert result.truncated is False


def test_split_keeps_given_description_without_tilde_and_overrides_with_one():
    assert split_value_description("v", "given").description == "given"
    assert split_value_description("v~mine", "given") == AttributeValue("v", "mine", False, "v")


def test_value_of_exactly_250_is_not_truncated():
    raw = "x" * VALUE_LEN
    result = split_value_description(raw)
    assert result == AttributeValue(raw, None, False, raw)


def test_long_value_is_truncated_and_reported():
    raw = "y" * 300
    result = split_value_description(f"  {raw}  ~desc")
    assert result.value == "y" * 250
    assert len(result.value) == VALUE_LEN
    assert result.truncated is True
    assert result.original == raw
    assert result.description == "desc"


def test_strip_happens_before_truncation():
    raw = " " * 10 + "z" * 250 + " " * 10
    assert split_value_description(raw).truncated is False


# --- expand_value ------------------------------------------------------------


@pytest.mark.parametrize("sort", SORTS)
def test_normal_kind_gives_one_raw_value(sort):
    assert expand_value("N", sort, " a.b~d ") == [(" a.b~d ", None)]


def test_list_kind_splits_strips_and_skips_empties():
    assert expand_value("-", "client", " a, b ,,  ,c,a ") == [("a", None), ("b", None), ("c", None)]
    assert expand_value("-", "client", " , ") == []


def test_left_kind_client_sort():
    assert expand_value("L", "client", "a.b.c") == [("a", None), ("a.b", None), ("a.b.c", None)]


def test_right_kind_client_sort():
    assert expand_value("R", "client", "a.b.c") == [("a.b.c", None), ("b.c", None), ("c", None)]


def test_left_kind_server_sort_adds_empty_value_first():
    assert [v for v, _ in expand_value("L", "server", "DOM.SUB")] == ["", "DOM", "DOM.SUB"]


def test_right_kind_server_sort_adds_empty_value_first():
    assert [v for v, _ in expand_value("R", "server", "x.y")] == ["", "x.y", "y"]


def test_left_kind_without_dots_and_empty_value():
    assert expand_value("L", "client", "solo") == [("solo", None)]
    assert expand_value("L", "server", "") == [("", None)]  # '' twice, deduplicated


def test_basic_sort_does_not_get_the_empty_value():
    assert expand_value("L", "basic", "a.b") == [("a", None), ("a.b", None)]


def test_json_list():
    raw = '[{"value": "v1", "description": "d1"}, {"value": "v2"}, {"description": "no value"}]'
    assert expand_value("J", "client", raw) == [("v1", "d1"), ("v2", None)]


def test_json_single_object():
    assert expand_value("J", "client", '{"value": "v", "description": "d"}') == [("v", "d")]


@pytest.mark.parametrize("raw", ['"text"', "42", "true", "null", "3.5"])
def test_json_scalar_gives_empty_list_not_none(raw):
    assert expand_value("J", "client", raw) == []


@pytest.mark.parametrize("raw", ["not json", "", "[{", "{'value': 'x'}"])
def test_invalid_json_gives_empty_list(raw):
    assert expand_value("J", "client", raw) == []


def test_json_skips_non_object_items_and_null_or_nested_values():
    raw = '["x", 1, {"value": null}, {"value": {"a": 1}}, {"value": [1]}, {"value": "ok"}]'
    assert expand_value("J", "client", raw) == [("ok", None)]


def test_json_non_string_scalars_use_json_spelling():
    raw = '[{"value": 5, "description": 1.5}, {"value": true}, {"value": ""}]'
    assert expand_value("J", "client", raw) == [("5", "1.5"), ("true", None), ("", None)]


def test_json_deep_nesting_does_not_crash():
    assert expand_value("J", "client", "[" * 100_000 + "]" * 100_000) == []


@pytest.mark.parametrize("kind", ["X", "", "n", None])
def test_unknown_kind_gives_empty_list(kind):
    assert expand_value(kind, "client", "a.b") == []


@pytest.mark.parametrize("kind", KINDS)
def test_none_value_gives_empty_list(kind):
    assert expand_value(kind, "client", None) == []


def test_expand_value_drops_duplicates_first_wins():
    assert expand_value("J", "client", '[{"value": "a", "description": "1"}, {"value": "a"}]') == [
        ("a", "1")
    ]


def test_expand_attribute_values_splits_and_truncates():
    long = "p" * 260
    result = expand_attribute_values("-", "client", f"a~first, a~second, {long}, b")
    assert [(r.value, r.description, r.truncated) for r in result] == [
        ("a", "first", False),
        ("p" * 250, None, True),
        ("b", None, False),
    ]


def test_expand_attribute_values_left_kind_tilde_goes_to_last_level():
    result = expand_attribute_values("L", "client", "a.b~desc")
    assert [(r.value, r.description) for r in result] == [("a", None), ("a.b", "desc")]


# --- parse_prefixed_tag ------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("DMN-SALES", ("DMN", "SALES")),
        ("TAG-a-b-c", ("TAG", "a-b-c")),  # split at the first dash only
        ("DMN-", ("DMN", "")),  # empty-valued L/R tag attribute
        ("NODASH", None),
        ("-value", None),
        ("", None),
        (None, None),
        (12, None),
    ],
)
def test_parse_prefixed_tag(tag, expected):
    assert parse_prefixed_tag(tag) == expected


# --- basic_attribute_values --------------------------------------------------


def test_basic_values_all_enabled():
    result = basic_attribute_values(
        computer_id=42,
        ip_address="10.0.0.1",
        project="Ubuntu",
        platform="Linux",
        user="alice",
        description="pc-42",
        enabled_prefixes=BASIC_PREFIXES,
    )
    assert result == [
        ("SET", ALL_SYSTEMS_VALUE, None),
        ("CID", "42", "pc-42"),
        ("PLT", "Linux", None),
        ("IP", "10.0.0.1", None),
        ("PRJ", "Ubuntu", None),
        ("USR", "alice", None),
    ]
    assert result[1].prefix == "CID"
    assert result[1].description == "pc-42"


def test_basic_values_only_enabled_prefixes():
    result = basic_attribute_values(7, "1.2.3.4", "P", "L", "u", "n", {"CID", "PRJ"})
    assert [r.prefix for r in result] == ["CID", "PRJ"]


def test_basic_values_skip_empty_values():
    result = basic_attribute_values(7, None, "", "Linux", None, None, BASIC_PREFIXES)
    assert result == [
        ("SET", ALL_SYSTEMS_VALUE, None),
        ("CID", "7", None),
        ("PLT", "Linux", None),
    ]


def test_basic_values_nothing_enabled():
    assert basic_attribute_values(1, "ip", "p", "l", "u", "d", []) == []


def test_basic_values_are_cut_to_column_length():
    (usr,) = basic_attribute_values(1, None, None, None, "u" * 300, None, ["USR"])
    assert usr.value == "u" * VALUE_LEN
