"""Package file names: name/version/architecture parsing and safe store file names."""

from __future__ import annotations

import pytest

from migasfree_pyramid.api.errors import APIError
from migasfree_pyramid.core_api.package_files import (
    ARCHITECTURES,
    EXTENSIONS,
    check_filename,
    normalized_name,
)


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        # The examples of the spec (repositories.md 1.2).
        ("migasfree-play_1.8.1_amd64.deb", ("migasfree-play", "1.8.1", "amd64")),
        ("bash-5.1.8-6.el9.x86_64.rpm", ("bash", "5.1.8-6.el9", "x86_64")),
        ("bash_5.1.8-6.el9_x86_64.rpm", ("bash", "5.1.8-6.el9", "x86_64")),
        ("foo-1.0-1-x86_64.pkg.tar.zst", ("foo", "1.0-1", "x86_64")),
        ("firefox_120.0_x64.tar.gz", ("firefox", "120.0", "x64")),
        ("mypkg.tar.gz", ("mypkg", "", "")),
        # Debian rule: one underscore left, a Debian version on the right.
        ("acme-tools_1.2-3_all.deb", ("acme-tools", "1.2-3", "all")),
        ("python3-dev_3.11.2-1+b1_arm64.deb", ("python3-dev", "3.11.2-1+b1", "arm64")),
        ("libc6_2:2.36-9~deb12u1_i386.deb", ("libc6", "2:2.36-9~deb12u1", "i386")),
        # Longest extension and architecture win.
        ("linux_6.1-1_kfreebsd-amd64.deb", ("linux", "6.1-1", "kfreebsd-amd64")),
        ("zstd-1.5.5-1-x86_64.pkg.tar.xz", ("zstd", "1.5.5-1", "x86_64")),
        ("musl-1.2.4-r2.x86_64.apk", ("musl", "1.2.4-r2", "x86_64")),
        ("kernel-6.1.rpm", ("kernel", "6.1", "")),
        ("Tool-2.0.MSI", ("Tool", "2.0", "")),
        # Epoch right after the separator.
        ("foo-:1.0", ("foo", ":1.0", "")),
        # Fix: the architecture must follow a separator ("small" does not end in "all").
        ("tools-small.deb", ("tools-small", "", "")),
        # Fix: a Debian version starts with a digit ("my_tool" is a name).
        ("my_tool.deb", ("my_tool", "", "")),
        # No name at all: the caller reports an incorrect name format.
        ("_1.0_all.deb", ("", "1.0", "all")),
        ("all.deb", ("all", "", "")),
        (".deb", (".deb", "", "")),
    ],
)
def test_normalized_name(filename, expected):
    assert normalized_name(filename) == expected


def test_tables_are_longest_first():
    assert EXTENSIONS.index("pkg.tar.zst") < EXTENSIONS.index("pkg")
    assert EXTENSIONS.index("tar.gz") < EXTENSIONS.index("deb")
    assert ARCHITECTURES.index("x86_64") < ARCHITECTURES.index("x86")
    assert ARCHITECTURES.index("kfreebsd-amd64") < ARCHITECTURES.index("amd64")
    assert len(set(EXTENSIONS)) == len(EXTENSIONS)


@pytest.mark.parametrize(
    "filename",
    ["acme-tools_1.2-3_all.deb", "a" * 270, "name with spaces_1.0_all.deb", "ünicode_1.0_all.deb"],
)
def test_safe_names_pass(filename):
    assert check_filename(filename) == filename


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("", "no name"),
        ("../evil_1.0_all.deb", "path separators"),
        ("a/b_1.0_all.deb", "path separators"),
        ("a\\b_1.0_all.deb", "path separators"),
        ("..", "'..'"),
        ("foo..bar_1.0_all.deb", "'..'"),
        ("nul\x00_1.0_all.deb", "control characters"),
        ("tab\t_1.0_all.deb", "control characters"),
        ("del\x7f_1.0_all.deb", "control characters"),
        (".hidden_1.0_all.deb", "start with a dot"),
        ("a" * 271, "at most 270"),
    ],
)
def test_unsafe_names_rejected(filename, reason):
    with pytest.raises(APIError) as caught:
        check_filename(filename)
    assert caught.value.code == 400
    (entry,) = caught.value.errors
    assert entry["name"] == "files"
    assert reason in entry["description"]
