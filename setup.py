"""Packaging hook: ship the tapset library inside the package.

The tapsets live at the top of the source tree (tapsets/), outside the
`pytap` package, so package-data cannot name them.  A built wheel gets a
copy at pytap/_tapsets, which is where an installed pytap looks first
(pytap.DEFAULT_TAPSET_DIR): its default tapsets come from the installed
package only, never from whatever sits next to it.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithTapsets(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return                      # editable: the checkout's tapsets/ is used
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tapsets")
        dst = os.path.join(self.build_lib, "pytap", "_tapsets")
        if os.path.isdir(src):
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithTapsets})
