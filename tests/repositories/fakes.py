"""A package manager that "builds" without any tool, for the orchestration tests.

``FakePMS`` writes ``Packages`` (the names in ``PKGS/``) and ``build-number`` into the stage. It
can be told to fail, to hang (after writing a marker file, so a test knows the build started),
or to call back in the middle of a build (to simulate triggers arriving meanwhile).
"""

from __future__ import annotations

import os
import time

from migasfree_pyramid.pms.apt import Apt
from migasfree_pyramid.pms.base import BuildError, PackageManager


class FakePMS(Apt):
    def __init__(self, mode: str = "ok", marker: str | None = None, on_build=None):
        self.mode = mode
        self.marker = marker
        self.on_build = on_build
        self.contexts = []

    def build(self, ctx) -> None:
        self.contexts.append(ctx)
        names = sorted(os.listdir(os.path.join(ctx.stage_dir, "PKGS")))
        with open(os.path.join(ctx.stage_dir, "Packages"), "w") as handle:
            handle.write("".join(f"{name}\n" for name in names))
        with open(os.path.join(ctx.stage_dir, "build-number"), "w") as handle:
            handle.write(str(len(self.contexts)))
        if self.on_build is not None:
            self.on_build(ctx)
        if self.mode == "fail":
            raise BuildError("the fake tool failed")
        if self.mode == "hang":
            if self.marker:
                with open(self.marker, "w") as handle:
                    handle.write(ctx.stage_dir)
            time.sleep(3600)


class NoBuildPMS(PackageManager):
    """A package manager that does not build repositories."""

    name = "nobuild"
