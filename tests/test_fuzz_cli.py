"""Bad input, many ways, through the command line (issue 11): each gets a non-zero exit, exactly one line on
stderr that names the file, line or option and the problem (no traceback), nothing on stdout, and no file
written or changed.

The CLI runs in this process (``interlingua.cli.main``): a subprocess per case would spend most of its time
importing torch. The cases that need a model share one trained for two steps on made-up text, and are
marked slow (it takes a minute on a busy machine); the rest fail before a model is ever loaded.
"""
from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import pytest

from interlingua.cli import main

LATIN1 = "café crème\n".encode("latin-1")
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff\xd8\xff\xe0"
GOOD_ROWS = "".join(json.dumps({"en": f"word {n}", "fr": f"mot {n}"}) + "\n" for n in range(30))


def workspace(folder: Path) -> None:
    """Every input the cases point at, written fresh for each case."""
    files = {
        "good.txt": b"Open the file\n", "good.jsonl": GOOD_ROWS.encode(),
        "five.jsonl": "".join(GOOD_ROWS.splitlines(True)[:5]).encode(),
        "empty.txt": b"", "empty.jsonl": b"", "blank.txt": b"\n   \n\t\n",
        "latin1.txt": LATIN1, "latin1.jsonl": b'{"en": "a", "fr": "b"}\n' + b'{"en": "caf\xe9", "fr": "x"}\n',
        "latin1.tsv": b"en\tfr\nOpen\tOuvrir\ncaf\xe9\tcaf\xe9\n", "latin1.yaml": b"model:\n  d_model: \xe9\n",
        "binary.bin": BINARY, "binary.tmx": BINARY, "binary.jsonl": BINARY,
        "keys.jsonl": b'{"en": "a", "fr": "b"}\n{"english": "c", "francais": "d"}\n',
        "a.po": b'msgid ""\nmsgstr ""\n"Language: fr\\n"\n\nmsgid "Open"\nmsgstr "Ouvrir"\n',
        "a.tmx": b'<tmx version="1.4"><body><tu><tuv xml:lang="en"><seg>a</seg></tuv>'
                 b'<tuv xml:lang="fr"><seg>b</seg></tuv></tu></body></tmx>',
        "plain.txt": b"Open\n", "other.txt": b"Ouvrir\n", "bad.yaml": b"model: [unclosed\n",
        "mine/thesis.tex": b"years of work", "dir.tsv/inside": b"x",
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): "folder" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))}


def run_main(argv: list[str], capsys, monkeypatch, stdin: bytes = b"") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors exit
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_clean_line(code: int, out: str, err: str, needles: list[str]) -> None:
    assert code not in (0, None), (out, err)
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("interlingua: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert out == "", out


def check(argv: list[str], needles: list[str], tmp_path: Path, capsys, monkeypatch, stdin: bytes = b"") -> None:
    workspace(tmp_path)
    before = snapshot(tmp_path)
    fill = {"T": str(tmp_path)}
    argv = [arg.format(**fill) for arg in argv]
    code, out, err = run_main(argv, capsys, monkeypatch, stdin)
    assert_one_clean_line(code, out, err, [n.format(**fill) for n in needles])
    assert snapshot(tmp_path) == before  # nothing written, nothing changed, no temporary file left


# ----------------------------------------------------------------------------- no model needed

# (argv, what the one line must name); {T} is the case's own folder
WITHOUT_A_MODEL = {
    # numbers out of range or not numbers: argparse's usage error, as one line
    "beam 1000": (["translate", "--model", "{T}", "--to", "fr", "--beam", "1000", "hi"], ["--beam", "1 to 64", "1000"]),
    "beam 0": (["translate", "--model", "{T}", "--to", "fr", "--beam", "0", "hi"], ["--beam", "got 0"]),
    "beam words": (["translate", "--model", "{T}", "--to", "fr", "--beam", "four", "hi"], ["--beam", "'four'"]),
    "evaluate beam": (["evaluate", "--model", "{T}", "--beam", "-1"], ["--beam"]),
    "evaluate max-sentences 0": (["evaluate", "--model", "{T}", "--max-sentences", "0"], ["--max-sentences"]),
    "translate-file beam": (["translate-file", "x.po", "--model", "{T}", "--to", "fr", "--out", "{T}/o",
                             "--beam", "999"], ["--beam"]),
    "mine k 0": (["mine", "--model", "{T}", "--src", "a", "--tgt", "b", "--out", "o", "--k", "0"], ["--k"]),
    "mine threshold nan": (["mine", "--model", "{T}", "--src", "a", "--tgt", "b", "--out", "o", "--threshold",
                            "nan"],
                           ["--threshold", "'nan'"]),
    "report max-sentences": (["report", "{T}", "--out", "{T}/r.html", "--max-sentences", "-3"], ["--max-sentences"]),
    "serve port": (["serve", "--model", "{T}", "--port", "70000"], ["--port", "65535"]),
    "serve max-batch": (["serve", "--model", "{T}", "--max-batch", "0"], ["--max-batch"]),
    "serve threads": (["serve", "--model", "{T}", "--threads", "-2"], ["--threads"]),
    "serve max-wait-ms inf": (["serve", "--model", "{T}", "--max-wait-ms", "inf"], ["--max-wait-ms"]),
    "split dev -5": (["corpus", "split", "{T}/good.jsonl", "--dev", "-5"], ["--dev", "-5"]),
    "build test -1": (["corpus", "build", "--out", "{T}/c.jsonl", "--test", "-1"], ["--test"]),
    "quickstart steps 0": (["quickstart", "--workdir", "{T}/q", "--steps", "0"], ["--steps"]),
    "quickstart minutes -2": (["quickstart", "--workdir", "{T}/q", "--max-minutes", "-2"], ["--max-minutes"]),
    "train minutes nan": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/run", "--max-minutes", "nan"],
                          ["--max-minutes"]),
    "unknown command": (["translat"], ["translat"]),
    "unknown option": (["translate", "--modle", "x", "--model", "{T}", "--to", "fr"], ["--modle"]),
    "missing option": (["translate", "--to", "fr", "hi"], ["--model"]),
    # config: keys, values, files
    "override unknown key": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/run", "--config", "tiny",
                              "bogus=1"], ["'bogus'"]),
    "override bad value": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/run", "--config", "tiny", "lr=fast"],
                           ["lr"]),
    "override out of range": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/run", "--config", "tiny",
                               "max_len=-1"], ["max_len", "-1"]),
    "override without =": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/run", "--config", "tiny", "lr"],
                           ["'lr'", "key=value"]),
    "config missing": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/run", "--config", "{T}/none.yaml"],
                       ["none.yaml"]),
    "config not YAML": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/run", "--config", "{T}/bad.yaml"],
                        ["bad.yaml", "not valid YAML"]),
    "config latin-1": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/run", "--config", "{T}/latin1.yaml"],
                       ["latin1.yaml"]),
    "config a folder": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/run", "--config", "{T}/mine"],
                        ["{T}/mine", "cannot read"]),
    # training data
    "train data missing": (["train", "--data", "{T}/none.jsonl", "--out", "{T}/run", "--config", "tiny"],
                           ["none.jsonl"]),
    "train data a folder": (["train", "--data", "{T}/dir.tsv", "--out", "{T}/run", "--config", "tiny"], ["dir.tsv"]),
    "train data binary": (["train", "--data", "{T}/binary.jsonl", "--out", "{T}/run", "--config", "tiny"],
                          ["binary.jsonl:1", "UTF-8"]),
    "train data latin-1": (["train", "--data", "{T}/latin1.jsonl", "--out", "{T}/run", "--config", "tiny"],
                           ["latin1.jsonl:2", "UTF-8"]),
    "train data empty": (["train", "--data", "{T}/empty.jsonl", "--out", "{T}/run", "--config", "tiny"],
                         ["empty.jsonl"]),
    "train data keys": (["train", "--data", "{T}/keys.jsonl", "--out", "{T}/run", "--config", "tiny"],
                        ["keys.jsonl:2", "'english'"]),
    "train out a file": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/good.txt", "--config", "tiny"],
                         ["good.txt", "is a file"]),
    "train out not a run": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/mine", "--config", "tiny"],
                            ["{T}/mine", "not a run folder"]),
    "overwrite not a run": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/mine", "--config", "tiny",
                             "--overwrite"], ["{T}/mine", "not a run folder"]),
    "resume nothing": (["train", "--data", "{T}/good.jsonl", "--out", "{T}/mine", "--resume"], ["nothing to resume"]),
    # corpus import
    "import keys": (["corpus", "import", "{T}/keys.jsonl", "--out", "{T}/o.jsonl"], ["keys.jsonl:2", "'english'"]),
    "import missing": (["corpus", "import", "{T}/none.tsv", "--out", "{T}/o.jsonl"], ["none.tsv", "no such file"]),
    "import a folder": (["corpus", "import", "{T}/dir.tsv", "--out", "{T}/o.jsonl"], ["dir.tsv", "directory"]),
    "import latin-1": (["corpus", "import", "{T}/latin1.tsv", "--out", "{T}/o.jsonl"], ["latin1.tsv:3", "UTF-8"]),
    "import binary tmx": (["corpus", "import", "{T}/binary.tmx", "--out", "{T}/o.jsonl"], ["binary.tmx"]),
    "import unknown format": (["corpus", "import", "{T}/binary.bin", "--out", "{T}/o.jsonl"], ["binary.bin", "format"]),
    "import po,tmx": (["corpus", "import", "{T}/a.po,{T}/a.tmx", "--out", "{T}/o.jsonl"], ["a.po", "separate inputs"]),
    "import txt,txt": (["corpus", "import", "{T}/plain.txt,{T}/other.txt", "--out", "{T}/o.jsonl"],
                       ["not a language code", "--langs"]),
    "import one lang": (["corpus", "import", "{T}/good.jsonl", "--out", "{T}/o.jsonl", "--langs", "en"], ["--langs"]),
    "import lang not a code": (["corpus", "import", "{T}/good.jsonl", "--out", "{T}/o.jsonl", "--langs", "en,french"],
                               ["'french'"]),
    "import out a folder": (["corpus", "import", "{T}/good.jsonl", "--out", "{T}/mine"], ["{T}/mine", "folder"]),
    "import out unwritable": (["corpus", "import", "{T}/good.jsonl", "--out", "/proc/interlingua-fuzz.jsonl"],
                              ["/proc/interlingua-fuzz.jsonl", "cannot write"]),
    "import out unknown format": (["corpus", "import", "{T}/good.jsonl", "--out", "{T}/o.xyz"],
                                  ["o.xyz", "'.xyz' is neither a corpus format"]),
    # corpus split
    "split empty": (["corpus", "split", "{T}/empty.jsonl"], ["empty.jsonl", "nothing to split"]),
    "split too few": (["corpus", "split", "{T}/five.jsonl"], ["five.jsonl", "too few"]),
    "split missing": (["corpus", "split", "{T}/none.jsonl"], ["none.jsonl"]),
    "split binary": (["corpus", "split", "{T}/binary.jsonl"], ["binary.jsonl:1"]),
    "split unknown product": (["corpus", "split", "{T}/good.jsonl", "--outside", "git"], ["products"]),
    # a model that is not there
    "model missing": (["translate", "--model", "{T}/none", "--to", "fr", "hi"], ["none", "no such run folder"]),
    "model not a run": (["translate", "--model", "{T}/mine", "--to", "fr", "hi"], ["{T}/mine", "not a run folder"]),
    "model a file": (["translate", "--model", "{T}/good.txt", "--to", "fr", "hi"], ["good.txt"]),
    "info not a run": (["info", "--model", "{T}/mine"], ["{T}/mine"]),
    "evaluate not a run": (["evaluate", "--model", "{T}/mine"], ["{T}/mine"]),
    "embed no model": (["embed", "--model", "{T}/none", "--in", "{T}/good.txt", "--out", "{T}/v.npy"], ["none"]),
    "export no model": (["export", "--model", "{T}/none"], ["none", "no such run folder"]),
    "export not a run": (["export", "--model", "{T}/mine"], ["{T}/mine", "not a run folder"]),
}


@pytest.mark.parametrize("case", list(WITHOUT_A_MODEL))
def test_bad_input_without_a_model(case, tmp_path, capsys, monkeypatch):
    argv, needles = WITHOUT_A_MODEL[case]
    check(argv, needles, tmp_path, capsys, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(WITHOUT_A_MODEL)[::6])
def test_bad_input_through_a_real_process(case, tmp_path):
    # A sample of the table as a user meets it: the installed entry point in its own process, so what
    # only a process shows (the exit status the shell sees, an import-time failure, a stray warning on
    # stderr) shows here too.
    import subprocess
    argv, needles = WITHOUT_A_MODEL[case]
    workspace(tmp_path)
    before = snapshot(tmp_path)
    fill = {"T": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "interlingua", *(a.format(**fill) for a in argv)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert_one_clean_line(done.returncode, done.stdout, done.stderr, [n.format(**fill) for n in needles])
    assert snapshot(tmp_path) == before


def test_an_override_without_equals_is_an_error_on_resume_too(tmp_path, capsys, monkeypatch):
    # it was dropped without a word: 'lr' alone, meant as lr=0.001, trained on with the old rate
    from interlingua.config import RunConfig, save_json
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(save_json(RunConfig()))
    before = snapshot(tmp_path)
    code, out, err = run_main(["train", "--data", "x.jsonl", "--out", str(run), "--resume", "lr"], capsys, monkeypatch)
    assert_one_clean_line(code, out, err, ["'lr'", "key=value"])
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- with a model

WITH_A_MODEL = {
    "empty argument": (["translate", "--to", "fr", ""], ["nothing to translate", "empty"]),
    "blank arguments": (["translate", "--to", "fr", " ", ""], ["every sentence given is empty"]),
    "empty file": (["translate", "--to", "fr", "--in", "{T}/empty.txt"], ["empty.txt", "empty"]),
    "blank file": (["translate", "--to", "fr", "--in", "{T}/blank.txt"], ["blank.txt", "only blank lines"]),
    "missing file": (["translate", "--to", "fr", "--in", "{T}/none.txt"], ["none.txt", "no such input file"]),
    "folder as file": (["translate", "--to", "fr", "--in", "{T}/mine"], ["{T}/mine", "cannot read"]),
    "latin-1 file": (["translate", "--to", "fr", "--in", "{T}/latin1.txt"], ["latin1.txt:1", "UTF-8"]),
    "binary file": (["translate", "--to", "fr", "--in", "{T}/binary.bin"], ["binary.bin:1", "UTF-8"]),
    "file and arguments": (["translate", "--to", "fr", "--in", "{T}/good.txt", "hi"], ["good.txt", "not both"]),
    "unknown language": (["translate", "--to", "xx", "hi"], ["'xx'", "en"]),
    "no language": (["translate", "--to", ",", "hi"], ["--to"]),
    "unknown pivot": (["translate", "--to", "fr", "--pivot", "klingon", "hi"], ["'klingon'"]),
    "unknown checkpoint": (["translate", "--to", "fr", "--checkpoint", "newest", "hi"], ["newest"]),
    "missing step": (["translate", "--to", "fr", "--checkpoint", "999", "hi"], ["999"]),
    "out a folder": (["translate", "--to", "fr", "--out", "{T}/mine", "hi"], ["{T}/mine", "is a folder"]),
    "out unwritable": (["translate", "--to", "fr", "--out", "/proc/interlingua-fuzz.txt", "hi"], ["cannot write"]),
    "out under a file": (["translate", "--to", "fr", "--out", "{T}/good.txt/o.txt", "hi"], ["not a folder"]),
    "embed latin-1": (["embed", "--in", "{T}/latin1.txt", "--out", "{T}/v.npy"], ["latin1.txt:1"]),
    "embed empty": (["embed", "--in", "{T}/empty.txt", "--out", "{T}/v.npy"], ["empty.txt"]),
    "embed out a folder": (["embed", "--in", "{T}/good.txt", "--out", "{T}/mine"], ["{T}/mine", "is a folder"]),
    "mine missing": (["mine", "--src", "{T}/none.txt", "--tgt", "{T}/good.txt", "--out", "{T}/p.tsv"],
                     ["none.txt"]),
    "mine latin-1": (["mine", "--src", "{T}/latin1.txt", "--tgt", "{T}/good.txt", "--out", "{T}/p.tsv"],
                     ["latin1.txt:1"]),
    "mine empty": (["mine", "--src", "{T}/empty.txt", "--tgt", "{T}/good.txt", "--out", "{T}/p.tsv"],
                   ["empty.txt"]),
    "mine out a folder": (["mine", "--src", "{T}/good.txt", "--tgt", "{T}/good.txt", "--out", "{T}/mine"],
                          ["{T}/mine", "is a folder"]),
    "evaluate data missing": (["evaluate", "--data", "{T}/none.jsonl", "--json", "{T}/e.json"], ["none.jsonl"]),
    "evaluate data keys": (["evaluate", "--data", "{T}/keys.jsonl", "--json", "{T}/e.json"], ["keys.jsonl:2"]),
    "evaluate json a folder": (["evaluate", "--data", "{T}/good.jsonl", "--json", "{T}/mine"],
                               ["{T}/mine", "is a folder"]),
    "evaluate plot a file": (["evaluate", "--data", "{T}/good.jsonl", "--json", "{T}/e.json", "--plot",
                              "{T}/good.txt"], ["good.txt"]),
    "report out a folder": (["report", "--out", "{T}/mine"],
                          ["{T}/mine", "is a folder"]),
    "export out under a file": (["export", "--out", "{T}/good.txt/onnx"], ["good.txt", "not a folder"]),
    "engine onnx, no export": (["translate", "--to", "fr", "--engine", "onnx", "hi"], ["no ONNX export"]),
    "engine torch, int8": (["translate", "--to", "fr", "--engine", "torch", "--precision", "int8", "hi"], ["int8"]),
    "report data missing": (["report", "--out", "{T}/r.html", "--data", "{T}/none.jsonl"], ["none.jsonl"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(WITH_A_MODEL))
def test_bad_input_with_a_model(case, made_up_run, tmp_path, capsys, monkeypatch):
    argv, needles = WITH_A_MODEL[case]
    # every command here takes the model as --model, but report takes it as its first argument
    argv = ([argv[0], str(made_up_run), *argv[1:]] if argv[0] == "report"
            else [argv[0], "--model", str(made_up_run), *argv[1:]])
    check(argv, needles, tmp_path, capsys, monkeypatch)


@pytest.mark.slow
def test_empty_stdin_and_a_beam_wider_than_the_vocabulary(made_up_run, tmp_path, capsys, monkeypatch):
    check(["translate", "--model", str(made_up_run), "--to", "fr"], ["<stdin>", "empty"], tmp_path, capsys,
          monkeypatch, stdin=b"")
    check(["translate", "--model", str(made_up_run), "--to", "fr"], ["<stdin>:2", "UTF-8"], tmp_path, capsys,
          monkeypatch, stdin=b"fine\n" + LATIN1)
    from interlingua import Translator
    from interlingua.errors import InterlinguaError
    translator = Translator.load(made_up_run)
    with pytest.raises(InterlinguaError, match=f"at most {translator.max_beam}"):
        translator.translate(["Open"], to="fr", beam=translator.max_beam + 1)


@pytest.mark.slow
def test_blank_lines_stay_blank_lines(made_up_run, tmp_path, capsys, monkeypatch):
    # a blank line was translated as a sentence: the model invents text for nothing
    (tmp_path / "in.txt").write_text("open the file\n\nsave\n   \n")
    code, out, err = run_main(["translate", "--model", str(made_up_run), "--to", "fr,de", "--tsv", "--in",
                               str(tmp_path / "in.txt")], capsys, monkeypatch)
    assert code == 0, err
    lines = out.split("\n")[:-1]
    assert len(lines) == 8 and lines[2:4] == ["fr\t", "de\t"] and lines[6:8] == ["fr\t", "de\t"]
    code, out, err = run_main(["translate", "--model", str(made_up_run), "--to", "fr", "--pivot", "en"], capsys,
                              monkeypatch, stdin=b"\nopen the file\n\n")
    assert code == 0 and out.split("\n")[:-1][0::2] == ["", ""] and len(out.split("\n")[:-1]) == 3, (out, err)
    from interlingua import Translator
    translator = Translator.load(made_up_run)
    assert translator.translate(["", " "], to=["fr", "de"]) == {"fr": ["", ""], "de": ["", ""]}
    assert translator.translate(["\t"], to="fr", beam=2) == [""]
    # which outputs were cut short is said per input line, blank ones included (the server reads it by index;
    # a pivot whose English came out empty once left it describing the wrong lines, and then failed)
    translator.translate(["open the file", "", "save"], to=["fr", "de"], pivot="en")
    assert set(translator.cut_short) == {"fr", "de"} and all(len(v) == 3 for v in translator.cut_short.values())
    assert translator.cut_short["fr"][1] is False
