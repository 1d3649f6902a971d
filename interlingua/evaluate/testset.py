"""The test rows an evaluation reads: any corpus format, restricted to the model's languages, in a fixed order.

Every later step refers to a row by its position in the list returned here, so a row id that
appears twice in a user's file cannot mix two meanings up.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..corpus.formats import ROW_ID, only_languages, read_corpus, row_languages
from ..corpus.split import run_split
from ..errors import InterlinguaError

log = logging.getLogger("interlingua.evaluate")

Row = dict[str, str]


def sort_by_id(rows: list[Row]) -> list[Row]:
    """Rows in id order: numeric when every id is a number (``2`` before ``10``), else as strings."""
    if all(str(row[ROW_ID]).isdigit() for row in rows):
        return sorted(rows, key=lambda row: int(row[ROW_ID]))
    return sorted(rows, key=lambda row: str(row[ROW_ID]))


def load_test_rows(data: str | Path | None, known: list[str], run: str | Path | None = None
                   ) -> tuple[list[Row], list[str], str]:
    """(rows sorted by id, the languages evaluated in the model's order, the name of the data).

    ``data`` is a test file in any corpus format; None: the test split of the corpus ``run`` was trained on.
    Languages of the file that the model does not know are dropped with one warning; a row
    keeps whatever known languages it has (one is enough for the language-ID probe).
    """
    if data is None:
        found = run_split(Path(run), "test") if run is not None else None
        if found is None:
            raise InterlinguaError(f"{Path(run or '.') / 'run.json'}: no corpus recorded; pass the test data "
                                   f"(--data TEST.jsonl)")
        rows, data = found
        if not rows:
            raise InterlinguaError(f"{data}: no test split; pass the test data (--data TEST.jsonl)")
    else:
        rows = read_corpus(data)
    present = {lang for row in rows for lang in row_languages(row)}
    unknown = sorted(present - set(known))
    if unknown:
        log.warning("%s: skipping languages the model does not know: %s", data, ", ".join(unknown))
    languages = [lang for lang in known if lang in present]
    kept = []
    for row in rows:
        row = only_languages(row, languages)
        if len(row) >= 2:
            kept.append(row)
    usable = [lang for lang in languages if any(lang in row and len(row) >= 3 for row in kept)]
    if len(usable) < 2:
        raise InterlinguaError(f"{data}: no row has two languages this model knows "
                               f"(file: {', '.join(sorted(present)) or 'none'}; model: {', '.join(known)})")
    return sort_by_id(kept), languages, str(data)


def first_rows(rows: list[Row], having: list[str], limit: int | None = None) -> list[int]:
    """Positions of the first ``limit`` rows (in id order) that have every language of ``having``."""
    found = [i for i, row in enumerate(rows) if all(lang in row for lang in having)]
    return found if limit is None else found[:limit]
