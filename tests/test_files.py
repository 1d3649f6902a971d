"""files.py: the one reader of UTF-8 text lines (corpus formats, translate --in, mine) and the JSON round trip."""
import io

import pytest

from interlingua.errors import InterlinguaError
from interlingua.files import read_json, text_lines, write_json


def test_text_lines_drop_the_bom_and_line_ends_and_keep_blank_lines():
    data = b"\xef\xbb\xbfOpen\r\n\nclose \xc3\xa9\n\xef\xbb\xbfnot a BOM here"
    assert list(text_lines(io.BytesIO(data), "x.txt")) == \
        [(1, "Open"), (2, ""), (3, "close é"), (4, "\ufeffnot a BOM here")]


def test_a_bad_byte_is_named_with_its_file_and_line():
    with pytest.raises(InterlinguaError, match=r"^x\.txt:3: not valid UTF-8 \(byte 0xe9 at byte 4 of the line\)"):
        list(text_lines(io.BytesIO(b"ok\n\ncaf\xe9\n"), "x.txt"))


def test_every_reader_of_lines_reports_the_same_place(tmp_path):
    from interlingua.cli import _read_lines
    from interlingua.corpus.formats import read_corpus
    from interlingua.mine import read_sentences
    text = tmp_path / "latin1.txt"
    text.write_bytes("Ouvrir\nFermé\n".encode("latin-1"))
    moses = tmp_path / "latin1.tsv"
    moses.write_bytes("en\tfr\nOpen\tOuvrir\nClosed\tFermé\n".encode("latin-1"))
    for read, path, place in ((lambda p: _read_lines(str(p), []), text, "latin1.txt:2"), (read_sentences, text,
                              "latin1.txt:2"), (read_corpus, moses, "latin1.tsv:3")):
        with pytest.raises(InterlinguaError, match=f"{place}: not valid UTF-8"):
            read(path)


def test_json_round_trip_and_a_corrupt_file_is_one_line(tmp_path):
    write_json(tmp_path / "a.json", {"é": [1, 2]})
    assert read_json(tmp_path / "a.json") == {"é": [1, 2]}
    (tmp_path / "b.json").write_text("{")
    with pytest.raises(InterlinguaError, match="b.json: corrupt JSON"):
        read_json(tmp_path / "b.json")
    with pytest.raises(InterlinguaError, match="c.json: missing"):
        read_json(tmp_path / "c.json")
