"""docs/tables.md is the catalogue in code, rendered: stale docs fail here."""

from lakehouse_assets.lake.catalog import TABLES, markdown
from tests.conftest import REPO


def test_docs_tables_md_is_current() -> None:
    shipped = (REPO / "docs" / "tables.md").read_text()
    assert shipped == markdown(), (
        "docs/tables.md is stale: run `.venv/bin/python -m lakehouse_assets.lake.catalog > docs/tables.md`"
    )


def test_every_table_and_column_is_documented() -> None:
    text = markdown()
    for spec in TABLES.values():
        assert f"## {spec.name}\n" in text
        for column in spec.schema:
            assert f"| `{column}` |" in text, (spec.name, column)
