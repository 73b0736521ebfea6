"""Docs checked against the code: every setting is in the README's table."""

from __future__ import annotations

from s3assist.settings import Settings
from tests.conftest import REPO


class TestReadme:
    def test_every_setting_is_documented(self):
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        missing = [
            f"S3ASSIST_{name.upper()}"
            for name in Settings.model_fields
            if f"`S3ASSIST_{name.upper()}`" not in readme
        ]
        assert missing == [], f"add these to the README settings table: {missing}"

    def test_first_lines_hold_the_two_commands(self):
        head = (REPO / "README.md").read_text(encoding="utf-8").splitlines()[:8]
        assert any(line.startswith("make run") for line in head)
        assert any(line.startswith("make test") for line in head)
        assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")

    def test_every_field_has_a_description(self):
        assert [n for n, f in Settings.model_fields.items() if not f.description] == []
