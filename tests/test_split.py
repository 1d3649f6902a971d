"""The split: near-duplicate messages never straddle training and held-out data; sizes, determinism, --split random."""
import random
import string

import pytest

from interlingua.corpus.formats import ROW_ID, read_corpus
from interlingua.corpus.split import grouping_key, held_out, near_duplicate_groups, outside_ids, split_rows
from interlingua.errors import InterlinguaError

FAMILIES = [
    ["Could not open file %s", "Cannot open file '%s'", "Unable to open file %s."],
    ["_Open File…", "Open file", "&Open file"],
    ["Recent documents", "Recent Document"],                     # equal only by fuzzy ratio (0.97)
    [f"KRB5 error code {n}" for n in range(101, 131)],          # a chain: 101~102~...~130
    ["Do you want to save the changes to %(name)s?", "Do you want to save changes to “{0}”?"],
]


def _noise(n: int, seed: int = 0) -> list[str]:
    """``n`` messages of random letters: no two are near-duplicates."""
    rng = random.Random(seed)
    return [" ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 8))) for _ in range(4))
            for _ in range(n)]


def _rows(noise: int = 400, seed: int = 0) -> list[dict[str, str]]:
    texts = [t for family in FAMILIES for t in family] + _noise(noise, seed)
    return [{ROW_ID: f"m{n:05d}", "en": text, "fr": f"fr {n}"} for n, text in enumerate(texts)]


def _side(split: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    return {row["en"]: name for name, rows in split.items() for row in rows}


def test_grouping_key_drops_case_punctuation_accelerators_placeholders_and_says_cannot_one_way():
    assert grouping_key("_Open File…") == grouping_key("Open file") == grouping_key("&Open file") == "open file"
    assert grouping_key("Could not open file %s") == grouping_key("Cannot open file '%s'") == "cannot open file"
    assert grouping_key("Unable to open file {name}.") == "cannot open file"
    assert grouping_key("Save file") != grouping_key("Open file")


def test_near_duplicate_groups_by_key_and_by_fuzzy_ratio_but_not_beyond():
    texts = ["Recent documents", "Recent Document", "Open file", "Save file", "Open files now please", "%s: %s",
             "%d: %d"]
    groups = near_duplicate_groups(texts)
    assert groups[0] == groups[1]                       # fuzzy ratio 0.97 after normalising
    assert len({groups[2], groups[3], groups[4]}) == 3  # 0.67 and 0.6: different messages
    assert groups[5] != groups[6]                       # nothing left to compare: each alone
    assert _same_partition(near_duplicate_groups(texts[::-1])[::-1], groups)


def _same_partition(a: list[int], b: list[int]) -> bool:
    return all((a[i] == a[j]) == (b[i] == b[j]) for i in range(len(a)) for j in range(len(a)))


@pytest.mark.parametrize("seed", range(8))
def test_near_duplicates_land_on_the_same_side_with_exact_sizes(seed):
    rows = _rows()
    split = split_rows(rows, dev=40, test=40, seed=seed)
    assert [len(split[name]) for name in ("dev", "test")] == [40, 40]
    assert len(split["train"]) == len(rows) - 80
    assert sorted(r[ROW_ID] for rs in split.values() for r in rs) == sorted(r[ROW_ID] for r in rows)
    side = _side(split)
    for family in FAMILIES:
        assert len({side[text] for text in family}) == 1, (seed, family, [side[t] for t in family])


def test_a_family_is_held_out_whole_for_some_seed():
    """Groups do reach dev and test (not only training), whole."""
    reached = set()
    for seed in range(20):
        side = _side(split_rows(_rows(), dev=40, test=40, seed=seed))
        reached |= {side[family[0]] for family in FAMILIES[:3]}
    assert {"dev", "test"} <= reached


def test_the_random_split_still_works_and_does_straddle_families():
    rows = _rows()
    straddled = 0
    for seed in range(8):
        split = split_rows(rows, dev=40, test=40, seed=seed, method="random")
        assert [len(split[name]) for name in ("train", "dev", "test")] == [len(rows) - 80, 40, 40]
        side = _side(split)
        straddled += len({side[t] for t in FAMILIES[3]}) > 1
    assert straddled >= 4  # 30 error codes among 80 held out of 440: nearly always cut


def test_the_split_is_a_function_of_ids_texts_and_seed_not_of_row_order():
    rows = _rows()
    shuffled = rows[:]
    random.Random(5).shuffle(shuffled)
    ids = lambda split: {name: sorted(r[ROW_ID] for r in split[name]) for name in split}  # noqa: E731
    assert ids(split_rows(rows, 40, 40, seed=3)) == ids(split_rows(shuffled, 40, 40, seed=3))
    assert ids(split_rows(rows, 40, 40, seed=3)) != ids(split_rows(rows, 40, 40, seed=4))


def test_rows_without_english_are_split_alone_and_an_unknown_method_is_named():
    rows = [{ROW_ID: f"x{n}", "fr": f"fr {n}", "de": f"de {n}"} for n in range(100)]
    split = split_rows(rows, dev=5, test=10, seed=1)
    assert [len(split[name]) for name in ("train", "dev", "test")] == [85, 5, 10]
    with pytest.raises(InterlinguaError, match="unknown split method 'fuzzy'.*grouped, random"):
        held_out([("a", "A")], method="fuzzy")


def test_cli_split_random_and_grouped(tmp_path):
    from conftest import run_cli
    from interlingua.corpus.formats import read_corpus, write_corpus
    from interlingua.corpus.split import split_path
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(_rows(), corpus, "jsonl")
    sides = {}
    for method in ("grouped", "random"):
        result = run_cli("corpus", "split", str(corpus), "--dev", "40", "--test", "40", "--seed", "2", "--split", method)
        assert result.returncode == 0, result.stderr.decode()
        assert "dev: 40 meanings" in result.stdout.decode() and "test: 40 meanings" in result.stdout.decode()
        assert ("grouped 40 of 440 meanings into 5 groups" in result.stderr.decode()) == (method == "grouped")
        sides[method] = {name: {r["en"] for r in read_corpus(split_path(corpus, name))} for name in ("dev", "test")}
    assert sides["grouped"] != sides["random"]
    result = run_cli("corpus", "split", str(corpus), "--split", "fuzzy")
    assert result.returncode != 0 and "invalid choice: 'fuzzy'" in result.stderr.decode()


def _catalogs(root, product: str, pairs: dict[str, str], lang: str = "fr") -> None:
    import polib
    catalog = polib.POFile()
    catalog.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": lang}
    for msgid, msgstr in pairs.items():
        catalog.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
    folder = root / lang / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    catalog.save_as_mofile(str(folder / f"{product}.mo"))


def test_a_product_is_held_out_whole_with_its_near_duplicates(tmp_path):
    from conftest import run_cli
    from interlingua.corpus.formats import read_corpus
    from interlingua.corpus.split import split_path
    noise = _noise(300, seed=1)
    _catalogs(tmp_path / "locale", "editor", {"Could not open file %s": "Impossible d'ouvrir %s",
                                              "Save the document": "Enregistrer le document",
                                              **{t: f"fr {t}" for t in noise[:150]}})
    _catalogs(tmp_path / "locale", "viewer", {"Cannot open file '%s'": "Impossible d'ouvrir « %s »",
                                              "Save the document": "Enregistrer le document",
                                              **{t: f"fr {t}" for t in noise[150:]}})
    corpus = tmp_path / "corpus.jsonl"
    result = run_cli("corpus", "build", "--out", str(corpus), "--roots", str(tmp_path / "locale"),
                     "--min-translations", "1", "--dev", "10", "--test", "20", "--outside", "editor", "--quiet")
    assert result.returncode == 0, result.stderr.decode()
    assert "outside test set: 153 meanings (152 named" in result.stderr.decode()
    side = {row["en"]: name for name in ("train", "dev", "test", "outside")
            for row in read_corpus(split_path(corpus, name))}
    assert len(side) == 303
    # editor's own meanings, the one it shares with viewer, and viewer's near-copy of an editor message
    assert {t for t, name in side.items() if name == "outside"} == {
        "Could not open file %s", "Save the document", "Cannot open file '%s'", *noise[:150]}
    assert [sum(name == n for name in side.values()) for n in ("dev", "test")] == [10, 20]

    # the same from the written corpus, and the errors a user can make
    result = run_cli("corpus", "split", str(corpus), "--dev", "10", "--test", "20", "--outside", "viewer")
    assert result.returncode == 0 and "outside: 153 meanings" in result.stdout.decode(), result.stderr.decode()
    result = run_cli("corpus", "split", str(corpus), "--outside", "gimp20")
    assert result.returncode != 0 and "no such product: gimp20" in result.stderr.decode()
    (tmp_path / "corpus.products.jsonl").unlink()
    result = run_cli("corpus", "split", str(corpus), "--outside", "viewer")
    assert result.returncode != 0 and "no record of the products" in result.stderr.decode()


def test_indonesian_catalogs_are_harvested_beside_the_meaning_ids(tmp_path):
    """Indonesian's code is "id", once the rows' meaning-id key: its text replaced a third of the corpus's ids, so it
    was left out; with the id under ROW_ID it is a language like the others, in the rows and in the written file."""
    from interlingua.corpus.harvest import build_corpus, meaning_id
    texts = [f"Open the file number {n}" for n in range(12)]
    _catalogs(tmp_path, "app", {t: f"fr {t}" for t in texts})
    _catalogs(tmp_path, "app", {t: f"id {t}" for t in texts[:11]}, lang="id")
    out = tmp_path / "corpus.jsonl"
    rows, _, _ = build_corpus(out, [tmp_path], min_translations=1, dev=1, test=1, progress=False, split="random")
    assert sorted(r["en"] for r in rows) == sorted(texts)
    assert all(r[ROW_ID] == meaning_id(r["en"]) and r["fr"] == f"fr {r['en']}" for r in rows)
    assert sum(r.get("id") == f"id {r['en']}" for r in rows) == 11
    assert read_corpus(out) == rows  # the file keeps both: the id and the Indonesian text
    assert outside_ids(out, ["app"]) == {r[ROW_ID] for r in rows}


def test_products_written_before_row_ids_moved_are_still_read(tmp_path):
    """A corpus.products.jsonl of an older harvest names its meanings under "id"."""
    (tmp_path / "corpus.products.jsonl").write_text('{"id": "a1", "products": ["app"]}\n'
                                                    '{"id": "b2", "products": ["other"]}\n', encoding="utf-8")
    assert outside_ids(tmp_path / "corpus.jsonl", ["app"]) == {"a1"}


# ----------------------------------------------------------------------------- bad requests (issue 11)

def test_a_negative_size_is_an_error_not_a_silent_empty_split():
    with pytest.raises(InterlinguaError, match="dev must be a whole number of meanings, 0 or more .got -5"):
        held_out([(str(n), f"text {n}") for n in range(50)], dev=-5)


@pytest.mark.parametrize("lines", [0, 1, 9])
def test_splitting_too_few_meanings_is_an_error_that_writes_nothing(tmp_path, lines):
    from interlingua.corpus.split import split_file
    corpus = tmp_path / "small.jsonl"
    corpus.write_text("".join(f'{{"en": "word {n}", "fr": "mot {n}"}}\n' for n in range(lines)))
    with pytest.raises(InterlinguaError, match="nothing to split" if lines == 0 else f"{lines} meaning.s. are too few"):
        split_file(corpus, dev=5, test=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.jsonl"]
    if lines:  # asked for no held-out meanings, any corpus splits, and training reads the empty dev split
        from interlingua.corpus.split import load_split
        counts = {name: n for name, (_, n) in split_file(corpus, dev=0, test=0).items()}
        assert counts == {"train": lines, "dev": 0, "test": 0}
        assert load_split(corpus, "dev") == [] and len(load_split(corpus, "train")) == lines


def test_write_splits_writes_every_split_or_none(tmp_path, monkeypatch):
    from interlingua.corpus import formats
    from interlingua.corpus.split import write_splits
    corpus = tmp_path / "c.jsonl"
    rows = [{ROW_ID: str(n), "en": f"word {n}", "fr": f"mot {n}"} for n in range(12)]
    paths = write_splits(corpus, {"train": rows[:10], "dev": rows[10:], "test": []})  # an empty split: an empty file
    assert [p.read_text().count("\n") for p in paths.values()] == [10, 2, 0]
    before = {p: p.read_bytes() for p in paths.values()}
    real = formats.jsonl_text
    calls = []

    def fail_on_the_second(rows, langs=None):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(rows, langs)
    monkeypatch.setattr(formats, "jsonl_text", fail_on_the_second)
    with pytest.raises(InterlinguaError, match="No space left"):
        write_splits(corpus, {"train": rows[:6], "dev": rows[6:], "test": rows[:1]})
    assert {p: p.read_bytes() for p in paths.values()} == before  # the old train split was not replaced alone
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())  # no temp files
