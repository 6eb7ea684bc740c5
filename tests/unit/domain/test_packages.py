import pytest

from migasfree_pyramid.domain.packages import (
    DeploymentPackages,
    dedupe,
    mandatory_packages,
    tag_change_packages,
    to_list,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, []),
        ("", []),
        ("a", ["a"]),
        ("a\nb\n", ["a", "b"]),
        ("a\r\nb\r\n\r\n", ["a", "b"]),
        ("  a  b\n\tc ", ["a", "b", "c"]),
        ("a\rb", ["a", "b"]),
    ],
)
def test_to_list(text, expected):
    assert to_list(text) == expected


def test_dedupe_keeps_first_position():
    assert dedupe(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert dedupe([]) == []


def test_mandatory_packages_in_deployment_order():
    deps = [
        DeploymentPackages(packages_to_install="a\nb", packages_to_remove="x"),
        DeploymentPackages(packages_to_install="b\r\nc", packages_to_remove=None),
        DeploymentPackages(),  # all NULL
        DeploymentPackages(packages_to_remove="y\nx"),
    ]
    assert mandatory_packages(deps) == {"install": ["a", "b", "c"], "remove": ["x", "y"]}


def test_mandatory_packages_without_deployments():
    assert mandatory_packages([]) == {"install": [], "remove": []}


def test_tag_change_undoes_old_and_applies_new():
    old = [
        DeploymentPackages(
            packages_to_install="old-inst",
            packages_to_remove="old-rem",
            default_preincluded_packages="old-pre",
            default_included_packages="old-inc",
            default_excluded_packages="old-exc",
        )
    ]
    new = [
        DeploymentPackages(
            packages_to_install="new-inst",
            packages_to_remove="new-rem",
            default_preincluded_packages="new-pre",
            default_included_packages="new-inc",
            default_excluded_packages="new-exc",
        )
    ]
    assert tag_change_packages(old, new) == {
        "preinstall": ["new-pre"],
        "install": ["old-rem", "old-exc", "new-inst", "new-inc"],
        "remove": ["old-inst", "old-pre", "old-inc", "new-rem", "new-exc"],
    }


def test_tag_change_null_fields_are_empty():
    # Quirk 7: NULL lists must not crash.
    old = [DeploymentPackages(packages_to_install="a")]
    new = [DeploymentPackages(default_included_packages=None), DeploymentPackages()]
    assert tag_change_packages(old, new) == {"preinstall": [], "install": [], "remove": ["a"]}


def test_tag_change_deduplicates_each_list():
    new = [
        DeploymentPackages(packages_to_install="p\nq", default_included_packages="q\np"),
        DeploymentPackages(default_preincluded_packages="r\nr", packages_to_install="p"),
    ]
    assert tag_change_packages([], new) == {
        "preinstall": ["r"],
        "install": ["p", "q"],
        "remove": [],
    }


def test_tag_change_keeps_a_package_in_both_lists_like_the_original():
    old = [DeploymentPackages(packages_to_install="shared")]
    new = [DeploymentPackages(packages_to_install="shared")]
    result = tag_change_packages(old, new)
    assert result["remove"] == ["shared"]
    assert result["install"] == ["shared"]


def test_tag_change_with_nothing():
    assert tag_change_packages([], []) == {"preinstall": [], "install": [], "remove": []}
