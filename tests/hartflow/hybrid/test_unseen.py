"""Words no training pair shows, answered through a stand-in (`hartflow.hybrid.unseen`), on an
invented language whose nouns' tokens are their own spelling (no COGS words)."""

from __future__ import annotations

import random

import pytest
from typer.testing import CliRunner

import cli
from hartflow.data.logical_form import ConjunctOrder, Edge, Graph, Node, render_form, to_form
from hartflow.hybrid import TrainConfig, decode_trace, evaluate_refiner, train
from hartflow.hybrid.unseen import OPEN_CLASS, StandIns, copy_of

NOUNS = ["dax", "wif", "lug", "zup", "fep", "mib", "tov", "kiv", "rul", "sep", "nar", "bol"]
NAMES = ["Ama", "Bek", "Cor", "Dil", "Eno", "Fay", "Gul", "Hob", "Ivo", "Jun", "Kem", "Lor"]
VERBS = {"blicked": "blick", "tuffed": "tuff", "gazzed": "gazz"}


def sentence(rng: random.Random, nouns=NOUNS, names=NAMES) -> tuple[str, str]:
    """`(det noun | name) verb (det noun | name) .` and its logical form: a noun's predicate and a
    name's constant are the word itself."""
    words: list[str] = []
    nodes: dict[int, Node] = {}

    def argument() -> int:
        if rng.random() < 0.3:
            words.append(rng.choice(names))
            nodes[len(words) - 1] = Node(constant=words[-1])
        else:
            det = rng.choice(["a", "the"])
            words.extend([det, rng.choice(nouns)])
            nodes[len(words) - 1] = Node(pred=words[-1], unary=det == "a", definite=det == "the")
        return len(words) - 1

    subj = argument()
    v = rng.choice(list(VERBS))
    words.append(v)
    verb = len(words) - 1
    nodes[verb] = Node(pred=VERBS[v])
    obj = argument()
    words.append(".")
    edges = (Edge(verb, ("agent",), subj), Edge(verb, ("theme",), obj))
    graph = Graph(tuple(words), tuple(nodes.get(i, Node()) for i in range(len(words))), edges)
    return " ".join(words), render_form(to_form(graph, ConjunctOrder()))


def as_pairs(rows):
    return [(tuple(s.split()), tuple(f.split())) for s, f in rows]


LEXICON = {**{n: n for n in NOUNS}, **{n: n for n in NAMES}, **VERBS}
KINDS = {**{n: [5, 7] for n in NOUNS}, **{n: [2] for n in NAMES}, **{v: [4] for v in VERBS}}


class TestStandIns:
    pairs = tuple(as_pairs(sentence(random.Random(i)) for i in range(300)))
    lexicon, kinds = LEXICON, KINDS

    def test_copies(self):
        assert copy_of("dax", "dax") == "same" and copy_of("TV", "tv") == "lower"
        assert copy_of("blicked", "blick") is None and copy_of("dax", None) is None

    def test_the_open_class_of_each_spelling(self):
        st = StandIns.build(self.pairs, self.lexicon, self.kinds)
        (copy, nouns), (_, names) = st.classes[False], st.classes[True]
        assert copy == "same" and set(nouns) == set(NOUNS) and set(names) == set(NAMES)
        counts = [sum(c.count(w) for c, _ in self.pairs) for w in nouns]
        assert counts == sorted(counts, reverse=True)  # the most frequent first

    def test_substitute_and_rename(self):
        st = StandIns.build(self.pairs, self.lexicon, self.kinds)
        nouns = st.classes[False][1]
        command = ("a", "gorp", "blicked", "the", nouns[0], ".")
        got, renames = st.substitute(command)
        # the most frequent noun the sentence does not hold already
        assert got == ("a", nouns[1], "blicked", "the", nouns[0], ".")
        assert renames == {nouns[1]: "gorp"}
        answer = (nouns[1], "(", "x", "_", "1", ")", "AND", nouns[0])
        assert StandIns.rename(answer, renames) == ("gorp", *answer[1:7], nouns[0])
        two, renames = st.substitute(("Quib", "tuffed", "a", "gorp", "."))
        assert two == (st.classes[True][1][0], "tuffed", "a", nouns[0], ".")
        assert set(renames.values()) == {"Quib", "gorp"}
        assert st.substitute(("a", "dax", "blicked", ".")) == (("a", "dax", "blicked", "."), {})

    def test_no_open_class_no_stand_in(self):
        renamed = {w: f"T{i}" for i, w in enumerate(self.lexicon)}  # tokens not spelled as words
        st = StandIns.build(self.pairs, renamed, self.kinds)
        assert st.classes == {}
        assert st.substitute(("a", "gorp", "blicked", ".")) == (("a", "gorp", "blicked", "."), {})
        few = {w: t for w, t in self.lexicon.items() if w not in NOUNS[OPEN_CLASS - 1 :]}
        assert False not in StandIns.build(self.pairs, few, self.kinds).classes


@pytest.fixture(scope="module")
def unseen_run(tmp_path_factory):
    """A short structure run on the language, and a test file of sentences with nouns and names
    training never shows."""
    folder = tmp_path_factory.mktemp("unseen")
    rng = random.Random(0)
    train_rows = [sentence(rng) for _ in range(300)]
    test_rows = [sentence(rng, ["gorp", "smib"], ["Quib"]) for _ in range(12)]
    (folder / "train.tsv").write_text("".join(f"{s}\t{f}\n" for s, f in train_rows))
    (folder / "test.tsv").write_text("".join(f"{s}\t{f}\n" for s, f in test_rows))
    cfg = TrainConfig(
        task=None, split=None, train_file=str(folder / "train.tsv"),
        test_file=str(folder / "test.tsv"), mode="hybrid", dim=32, n_heads=2, batch_size=16,
        lr=3e-3, max_steps=60, warmup_steps=5, max_halt_steps=1, ckpt_every=1000, log_every=20,
        folds=2, hrr_d=256, cache_dir=str(folder / "cache"), augment=0,
    )  # fmt: skip
    train(cfg, out=folder / "run")
    return folder, test_rows


def test_answers_are_the_stand_ins_answers_renamed(unseen_run, tmp_path):
    folder, test_rows = unseen_run
    ev = evaluate_refiner(folder / "run", batch_size=8, predictions=tmp_path / "p.tsv")
    assert ev["stand_ins"] == 12 and ev["ill_formed"] == 0
    answers = [line.split("\t")[2] for line in (tmp_path / "p.tsv").read_text().splitlines()[1:]]
    # the same sentences with the stand-ins written in: the same answers, up to the renaming
    from hartflow.hybrid.config import TrainConfig as Cfg
    from hartflow.hybrid.data import load_pairs
    from hartflow.hybrid.evaluation import load_refiner
    from hartflow.hybrid.structure_run import with_frames
    from hartflow.zeroshot.lexicon import induce_lexicon

    _, _, config = load_refiner(folder / "run")[1:]
    # a checkpoint trained today saves the decoder's priors (older ones read them on loading)
    saved = config["vocab"]
    assert saved["attached"] == [2, 5] and saved["crossings"] == []  # arguments; none cross
    assert saved["left_kinds"]["a"] == [1] and saved["left_kinds"]["the"] == [2]
    pairs = load_pairs(Cfg(task=None, split=None, train_file=str(folder / "train.tsv"),
                           test_file=str(folder / "test.tsv")))[0]  # fmt: skip
    st = StandIns.build(pairs, induce_lexicon(pairs), with_frames(config, pairs)["vocab"]["kinds"])
    subs = [st.substitute(tuple(s.split())) for s, _ in test_rows]
    written = tmp_path / "written.tsv"
    lines = [f"{' '.join(c)}\t{f}\n" for (c, _), (_, f) in zip(subs, test_rows, strict=True)]
    written.write_text("".join(lines))
    plain = evaluate_refiner(folder / "run", batch_size=8, train=folder / "train.tsv",
                             test=written, predictions=tmp_path / "q.tsv")  # fmt: skip
    assert plain["stand_ins"] == 0
    theirs = [line.split("\t")[2] for line in (tmp_path / "q.tsv").read_text().splitlines()[1:]]
    for a, b, (_, renames) in zip(answers, theirs, subs, strict=True):
        assert a == " ".join(StandIns.rename(tuple(b.split()), renames))
        assert not set(renames) & set(a.split())  # no stand-in's token is left
    # one command from the CLI: answered, the stand-ins named on stderr
    trace = decode_trace(folder / "run", test_rows[0][0])
    assert trace["answer"] == answers[0] and trace["stand_ins"]
    assert all(r["word"] == w for r, w in zip(trace["graph"], test_rows[0][0].split(),
                                              strict=True))  # fmt: skip
    r = CliRunner().invoke(cli.app, ["decode", test_rows[0][0], "--checkpoint",
                                     str(folder / "run")])  # fmt: skip
    shown = " ".join(r.output.split())  # rich wraps long lines
    assert r.exit_code == 0 and answers[0] in shown and "stand-ins: " in shown
