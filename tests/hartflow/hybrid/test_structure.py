"""The structure refiner's pipeline on an invented logical-form language (no COGS words):
labels and decoding, training that learns, evaluation, resume, CLI."""

from __future__ import annotations

import hashlib
import json
import math
import random

import pytest
import torch
from typer.testing import CliRunner

import cli
from hartflow.data import load_examples
from hartflow.data.logical_form import ConjunctOrder, Edge, Graph, Node, render_form, to_form
from hartflow.data.slots import same_edges
from hartflow.hybrid import TrainConfig, decode_trace, evaluate_refiner, train
from hartflow.hybrid.run import resolve_refiner
from hartflow.hybrid.structure import (
    StructureVocab,
    collate,
    decode_graph,
    is_structured,
    make_item,
    parse_graph,
    render_graph,
)
from tests.conftest import SHARED_DATA

runner = CliRunner()
NOUNS = {"dax": "DAX", "wif": "WIF", "lug": "LUG", "zup": "ZUP", "fep": "FEP", "mib": "MIB"}
VERBS = {"blicked": "blick", "tuffed": "tuff", "gazzed": "gazz"}
PREPS = ["nup", "ko"]


def sentence(rng: random.Random, depth: int) -> tuple[str, str]:
    """`det noun verb det noun (prep det noun)*depth .` with its logical form (COGS syntax,
    invented tokens): definites marked, agent/theme edges, a chain of nmod edges."""
    words: list[str] = []
    nodes: dict[int, Node] = {}
    edges = []

    def noun() -> int:
        det = rng.choice(["a", "the"])
        w = rng.choice(list(NOUNS))
        words.extend([det, w])
        i = len(words) - 1
        nodes[i] = Node(pred=NOUNS[w], unary=det == "a", definite=det == "the")
        return i

    subj = noun()
    v = rng.choice(list(VERBS))
    words.append(v)
    verb = len(words) - 1
    nodes[verb] = Node(pred=VERBS[v])
    obj = noun()
    edges += [Edge(verb, ("agent",), subj), Edge(verb, ("theme",), obj)]
    head = obj
    for _ in range(depth):
        p = rng.choice(PREPS)
        words.append(p)
        nxt = noun()
        edges.append(Edge(head, ("nmod", p), nxt))
        head = nxt
    words.append(".")
    graph = Graph(
        tuple(words), tuple(nodes.get(i, Node()) for i in range(len(words))), tuple(edges)
    )
    return " ".join(words), render_form(to_form(graph, ConjunctOrder()))


@pytest.fixture(scope="module")
def lf_files(tmp_path_factory):
    """train.tsv: 400 sentences with PP depth 0-1; test.tsv: 40 with depth 0-2."""
    rng = random.Random(0)
    folder = tmp_path_factory.mktemp("lf")
    train = [sentence(rng, rng.choice([0, 0, 1])) for _ in range(400)]
    test = [(*sentence(rng, d), f"depth_{d}") for d in (0, 1, 2) for _ in range(14)]
    (folder / "train.tsv").write_text("".join(f"{s}\t{f}\n" for s, f in train))
    (folder / "test.tsv").write_text("".join(f"{s}\t{f}\t{c}\n" for s, f, c in test))
    return folder / "train.tsv", folder / "test.tsv"


def pairs_of(path) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    return [(tuple(e.input.split()), tuple(e.output.split())) for e in load_examples(
        train=path, test=path)["train"]]  # fmt: skip


def gold_round_trip(pairs) -> int:
    """How many pairs come back exactly from their own label tensors through the decoder."""
    graphs = [parse_graph(c, o) for c, o in pairs]
    vocab = StructureVocab.build(pairs, graphs, {})
    order = ConjunctOrder.induce(graphs)
    items = [make_item(c, vocab, translations={}, hypothesis=None, answer=o) for c, o in pairs]
    same = 0
    for lo in range(0, len(items), 64):
        chunk = items[lo : lo + 64]
        batch, labels = collate(chunk, len(vocab.roles))
        L = batch["words"].shape[1]
        for b, (c, o) in enumerate(pairs[lo : lo + 64]):
            n = len(c)
            row = {k: v[b, :n].clone() for k, v in labels.items()}
            row["edges"] = torch.where(row["edges"] == L, n, row["edges"])
            same += render_graph(decode_graph(c, row, vocab), order) == o
    return same


class TestLabels:
    def test_gold_labels_decode_to_the_exact_string(self, lf_files):
        pairs = pairs_of(lf_files[0])
        assert gold_round_trip(pairs) == len(pairs)

    @pytest.mark.parametrize("task", ["cogs", "slog"])
    def test_gold_labels_on_real_data(self, task):
        folder = SHARED_DATA / task
        if not folder.is_dir():
            pytest.skip(f"{task} data not found at {folder}")
        parts = load_examples(task, "gen", data_dir=folder)
        rows = [e for e in parts["train"] if "LAMBDA" not in e.output][:3000]
        pairs = [(tuple(e.input.split()), tuple(e.output.split())) for e in rows]
        assert gold_round_trip(pairs) >= 0.97 * len(pairs)  # SLOG: induced order, see codec

    def test_ill_formed_prediction_is_none_not_a_crash(self):
        words = ("a", "dax")
        bad = {"pred": torch.tensor([1, 1]), "kind": torch.tensor([0, 2]),
               "const": torch.tensor([1, 1]), "edges": torch.tensor([[0], [2]])}  # fmt: skip
        vocab = StructureVocab(["<pad>", "<none>", "<unk>", "a", "dax"],
                               ["<pad>", "<none>", "<unk>", "DAX"], ["theme"])  # fmt: skip
        graph = decode_graph(words, bad, vocab)  # edge from a node with no predicate
        assert render_graph(graph, ConjunctOrder()) is None

    def test_an_edge_target_without_content_takes_its_likeliest(self):
        tokens = ["<pad>", "<none>", "<unk>", "DAX", "?", "Ann"]
        vocab = StructureVocab(["<pad>", "<none>", "<unk>", "Q", "daxed"], tokens, ["agent"])
        none = torch.tensor([1, 1])
        decided = {
            "pred": torch.tensor([1, 3]),
            "kind": torch.tensor([0, 0]),
            "const": none,
            "edges": torch.tensor([[2], [0]]),
        }  # node 1 --agent--> node 0: no content

        def form(graph) -> str:
            return " ".join(render_graph(graph, None))

        assert form(decode_graph(("Q", "daxed"), decided, vocab)) == "DAX . agent ( x _ 1 , x _ 0 )"
        alt = {
            "const_alt": torch.tensor([4, 5]),
            "const_alt_logp": torch.tensor([-0.5, -3.0]),
            "pred_alt": torch.tensor([3, 3]),
            "pred_alt_logp": torch.tensor([-4.0, -0.1]),
        }
        graph = decode_graph(("Q", "daxed"), {**decided, **alt}, vocab)
        assert form(graph) == "DAX . agent ( x _ 1 , ? )"
        alt["pred_alt_logp"] = torch.tensor([-0.2, -0.1])  # a predicate is likelier: a noun
        graph = decode_graph(("Q", "daxed"), {**decided, **alt}, vocab)
        assert graph.nodes[0].pred == "DAX" and graph.nodes[0].unary

    def test_predicates_without_conjuncts_are_written_as_unary(self):
        # a verb's predicate, two constants, no edge decoded: nothing to write as it stands
        words = ("Q", "was", "daxed", "to", "Ann", "by", "Bo")
        nodes = (Node(), Node(), Node(pred="dax"), Node(), Node(constant="Ann"), Node(),
                 Node(constant="Bo"))  # fmt: skip
        got = render_graph(Graph(words, nodes), ConjunctOrder())
        assert got == ("dax", "(", "x", "_", "2", ")")
        # a well-formed graph keeps a stray predicate out of its form, as before
        nodes = (Node(pred="cat", unary=True), Node(pred="be"), Node())
        graph = Graph(("cat", "was", "x"), nodes)
        assert render_graph(graph, ConjunctOrder()) == ("cat", "(", "x", "_", "0", ")")

    def test_auto_picks_the_structure_refiner(self, lf_files, tiny_files):
        assert is_structured(pairs_of(lf_files[0]))
        assert not is_structured(pairs_of(tiny_files[0]))
        cfg = TrainConfig(task=None, split=None, train_file=str(lf_files[0]),
                          test_file=str(lf_files[1]))  # fmt: skip
        assert resolve_refiner(cfg).refiner_kind == "structure"


def config(files, tmp_path, **kw) -> TrainConfig:
    base = dict(
        task=None, split=None, train_file=str(files[0]), test_file=str(files[1]), mode="trm",
        dim=32, n_heads=2, batch_size=16, lr=3e-3, max_steps=200, warmup_steps=5,
        max_halt_steps=1, ckpt_every=1000, log_every=20, folds=2, hrr_d=256,
        cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    return TrainConfig(**{**base, **kw})


class TestTraining:
    def test_a_short_run_learns(self, lf_files, tmp_path):
        out = tmp_path / "run"
        result = train(config(lf_files, tmp_path, augment=0), out=out)
        log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        assert log[-1]["exact"] > 0.4 > log[0]["exact"]  # learns the training graphs
        assert (out / "curve.png").is_file() and result["step"] == 200
        r = evaluate_refiner(out, batch_size=8)
        assert r["refiner"] == "structure" and r["n"] == 42
        assert r["per_category"]["depth_0"] >= 0.5  # in-distribution sentences come back
        assert 0 <= r["order_insensitive_match"] <= 1 and r["ill_formed"] >= 0
        trace = decode_trace(out, "a dax blicked the wif .")
        assert trace["refiner"] == "structure" and len(trace["trace"]) == 2
        assert [row["word"] for row in trace["graph"]][:2] == ["a", "dax"]

    def test_resume_reaches_the_same_weights(self, lf_files, tmp_path):
        a, b = tmp_path / "a", tmp_path / "b"
        cfg = config(lf_files, tmp_path, max_steps=12, ckpt_every=6, log_every=1)
        train(cfg, out=a)
        train(config(lf_files, tmp_path, max_steps=6, ckpt_every=6, log_every=1), out=b)
        train(cfg, out=b, resume=True)
        from safetensors.torch import load_file

        wa = load_file(str(next((a / "checkpoints").iterdir()) / "model.safetensors"))
        wb = load_file(str(next((b / "checkpoints").iterdir()) / "model.safetensors"))
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)

    def test_hybrid_run_uses_the_memory(self, lf_files, tmp_path):
        out = tmp_path / "hyb"
        train(config(lf_files, tmp_path, mode="hybrid", max_steps=30), out=out)
        saved = json.loads(next((out / "checkpoints").iterdir()).joinpath("config.json")
                           .read_text())  # fmt: skip
        assert saved["kind"] == "structure-refiner" and saved["structure"]["evidence"]
        assert saved["translations"]["dax"] == "DAX"  # induced by the HRR lexicon
        r = evaluate_refiner(out, batch_size=8)
        assert {"fixed", "broken", "hypothesis_exact_match", "refiner_alone_exact_match"} <= set(r)
        # the selector was fitted (or fell back) on held-out original and recombined pairs
        assert saved["selector"]["fitted_on"]["held_out"] == 40 + 20  # a tenth of 400 and of 200
        assert sum(r["answer_sources"].values()) == r["n"]

    def test_slots_and_recombination_carry_to_unseen_depth(self, lf_files, tmp_path):
        """Trained on PP depth 0-1 plus recombined pairs, the slot refiner answers depth 2."""
        out = tmp_path / "deep"
        train(config(lf_files, tmp_path, max_steps=600, augment=400), out=out)
        r = evaluate_refiner(out, batch_size=8)
        assert r["per_category"]["depth_2"] >= 0.8, r["per_category"]


class TestSelector:
    def test_without_a_fit_the_halting_head_decides(self):
        from hartflow.hybrid.selector import Selector, choose

        feats = [{"p_halt": p} for p in (0.9, 0.2, 0.9, 0.1, 0.1)]
        refiner = [("R",), ("R",), None, ("R",), ("M",)]
        memory = [("M",), ("M",), ("M",), None, ("M",)]
        got, sources = choose(refiner, memory, feats, Selector())
        assert got == [("R",), ("M",), ("M",), ("R",), ("M",)]
        assert sources == ["refiner", "memory", "memory", "refiner", "agree"]

    def test_a_fit_learns_which_feature_says_who_is_right(self):
        from hartflow.hybrid.selector import FEATURES, fit_selector

        rng = random.Random(0)
        feats, ref, mem = [], [], []
        for _ in range(200):  # the refiner is right exactly when its slot margin is large
            f = {k: rng.random() for k in FEATURES}
            feats.append(f)
            ref.append(f["slot_margin"] > 0.5)
            mem.append(not ref[-1])
        sel = fit_selector(feats, ref, mem)
        assert sel.weights is not None and sel.fitted_on["refiner_only_right"] == sum(ref)
        base = {k: 0.5 for k in FEATURES}
        assert sel.refiner_wins({**base, "slot_margin": 0.9})
        assert not sel.refiner_wins({**base, "slot_margin": 0.1})
        assert type(sel).from_json(sel.to_json()) == sel

    def test_too_few_disagreements_keep_the_halting_rule(self):
        from hartflow.hybrid.selector import FEATURES, fit_selector

        sel = fit_selector([{k: 0.0 for k in FEATURES}] * 3, [True, False, True],
                           [False, True, True])  # fmt: skip
        assert sel.weights is None and sel.refiner_wins({"p_halt": 0.7})


def test_cli_train_eval_decode(lf_files, tmp_path):
    """A graph-shaped task trains an ensemble of two members by default (one process each)."""
    out = tmp_path / "cli"
    args = ["train", "--train", str(lf_files[0]), "--test", str(lf_files[1]), "--mode", "trm",
            "--out", str(out), "--steps", "10", "--hidden", "32", "--quiet"]  # fmt: skip
    r = runner.invoke(cli.app, args)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["ensemble.json", "member-0", "member-1"]
    r = runner.invoke(cli.app, ["eval", "--mode", "trm", "--checkpoint", str(out), "--quiet",
                                "--json", str(tmp_path / "r.json")])  # fmt: skip
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["refiner"] == "structure" and [m["seed"] for m in result["members"]] == [0, 1]
    assert "any order" in r.output  # the order-insensitive match beside exact match
    assert "members alone" in r.output
    r = runner.invoke(cli.app, ["decode", "a dax blicked the wif .", "--checkpoint", str(out),
                                "--trace"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "graph after supervision step 1, cycle 1" in r.output and "member 1:" in r.output
    r = runner.invoke(cli.app, args)  # the folder holds an ensemble: not overwritten
    assert r.exit_code != 0 and "already holds a checkpoint" in str(r.exception)


SYNTAX = {"(", ")", ",", ".", ";", "*", "AND", "LAMBDA", "_", "x"}


def renamed(pairs, words: dict, tokens: dict):
    """Every input word and every logical-form token that is not syntax, a position number or a
    lambda variable through one map (a proper name is the same string on both sides)."""
    out = []
    for c, o in pairs:
        toks, prev = [], None
        for t in o:
            keep = t in SYNTAX or t.isdigit() or (prev == "LAMBDA") or (len(t) == 1 and t.islower())
            toks.append(t if keep else tokens.setdefault(t, f"T{len(tokens)}"))
            prev = t
        out.append((tuple(words.setdefault(w, f"W{len(words)}") for w in c), tuple(toks)))
    return out


def test_renaming_gives_the_same_answers_renamed(tmp_path):
    folder = SHARED_DATA / "cogs"
    if not folder.is_dir():
        pytest.skip(f"COGS data not found at {folder}")
    parts = load_examples("cogs", "gen", data_dir=folder)
    to_pairs = lambda rows: [(tuple(e.input.split()), tuple(e.output.split())) for e in rows]  # noqa: E731
    train_pairs, test_pairs = to_pairs(parts["train"][:400]), to_pairs(parts["test"][::700])
    tokens: dict = {}
    words = tokens  # one renaming for both sides
    runs = {}
    for name, (tr, te) in {
        "plain": (train_pairs, test_pairs),
        "renamed": (renamed(train_pairs, words, tokens), renamed(test_pairs, words, tokens)),
    }.items():
        d = tmp_path / name
        d.mkdir()
        for part, rows in (("train", tr), ("test", te)):
            (d / f"{part}.tsv").write_text("".join(f"{' '.join(c)}\t{' '.join(o)}\n"
                                                   for c, o in rows))  # fmt: skip
        files = (d / "train.tsv", d / "test.tsv")
        train(config(files, tmp_path, max_steps=40, log_every=10), out=d / "run")
        runs[name] = (d / "run", te)
    from hartflow.hybrid.evaluation import load_refiner
    from hartflow.hybrid.structure_run import structure_answers

    answers = {}
    for name, (run, te) in runs.items():
        model, _, _, cfg_json = load_refiner(run)
        answers[name] = structure_answers(model, cfg_json, [c for c, _ in te], None)[0]
    assert len(answers["plain"]) == 30
    back = {v: k for k, v in tokens.items()}
    for a, b in zip(answers["plain"], answers["renamed"], strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert tuple(back.get(t, t) for t in b) == a


class TestNothingDroppedInSilence:
    @pytest.fixture
    def broken(self, lf_files, tmp_path):
        lines = lf_files[0].read_text().splitlines()
        lines[4] = lines[4].replace(" )", "", 1)  # line 5: one broken bracket
        path = tmp_path / "broken.tsv"
        path.write_text("\n".join(lines) + "\n")
        return path, lf_files[1]

    def test_strict_names_the_file_and_line(self, broken, tmp_path):
        from hartflow.errors import HartFlowError

        with pytest.raises(HartFlowError, match=r"broken\.tsv:5: .*logical form"):
            train(config(broken, tmp_path, max_steps=2, strict=True), out=tmp_path / "s")

    def test_otherwise_skipped_counted_and_listed(self, broken, tmp_path, caplog):
        out = tmp_path / "ns"
        with caplog.at_level("WARNING"):
            train(config(broken, tmp_path, max_steps=2, augment=0), out=out)
        assert "skipped 1 training line(s)" in caplog.text and "broken.tsv:5" in caplog.text
        saved = json.loads(next((out / "checkpoints").iterdir()).joinpath("config.json")
                           .read_text())  # fmt: skip
        assert saved["skipped_training_pairs"] == 1
        assert saved["skipped_training_lines"][0].startswith(f"{broken[0]}:5: ")


def test_minutes_alone_trains_for_the_minutes_with_the_benchmark_settings(lf_files):
    from hartflow.hybrid.config import STRUCTURE_DEFAULTS, UNTIL_BUDGET
    from hartflow.hybrid.run import with_defaults

    base = TrainConfig(task=None, split=None, train_file=str(lf_files[0]),
                       test_file=str(lf_files[1]), minutes=3.0)  # fmt: skip
    cfg = with_defaults(base, set())
    assert cfg.refiner_kind == "structure" and cfg.max_steps == UNTIL_BUDGET
    assert (cfg.dim, cfg.batch_size, cfg.lr) == tuple(
        STRUCTURE_DEFAULTS[k] for k in ("dim", "batch_size", "lr"))  # fmt: skip
    assert (cfg.corruption, cfg.word_dropout, cfg.members) == (0.7, 0.3, 2)
    given = with_defaults(TrainConfig(**{**base.to_json(), "dim": 32, "max_steps": 50}),
                          {"dim", "max_steps"})  # fmt: skip
    assert given.dim == 32 and given.max_steps == 50 and given.batch_size == 64


def test_cli_predictions_and_augment(lf_files, tmp_path):
    pred = tmp_path / "p.tsv"
    args = ["eval", "--mode", "hrr", "--train", str(lf_files[0]), "--test", str(lf_files[1]),
            "--predictions", str(pred), "--quiet"]  # fmt: skip
    r = runner.invoke(cli.app, args)
    assert r.exit_code == 0, r.output
    lines = pred.read_text().splitlines()
    assert lines[0].split("\t") == ["input", "gold", "answer", "category", "correct"]
    assert len(lines) == 1 + 42 and {ln.split("\t")[-1] for ln in lines[1:]} <= {"true", "false"}
    aug = tmp_path / "aug.tsv"
    r = runner.invoke(cli.app, ["data", "augment", "--train", str(lf_files[0]), "--n", "20",
                                "--max-depth", "3", "--out", str(aug), "--seed", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = [ln.split("\t") for ln in aug.read_text().splitlines()]
    assert len(rows) == 20 and all(len(row) == 3 and row[2] == "recombined" for row in rows)
    pooled = tmp_path / "pooled.tsv"
    r = runner.invoke(cli.app, ["data", "augment", "--train", str(lf_files[0]), "--n", "20",
                                "--max-depth", "3", "--out", str(pooled), "--seed", "1",
                                "--pool", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert len(pooled.read_text().splitlines()) == 20
    r = runner.invoke(cli.app, ["data", "augment", "--task", "scan", "--n", "5", "--out",
                                str(aug)])  # fmt: skip
    assert r.exit_code != 0 and "Traceback" not in r.output


def test_augment_pool_of_older_runs():
    """A run saved before `augment_pool` existed resumes with its recombined pairs as drawn
    (pool 1); a new run keeps them from a pool of three times as many."""
    saved = TrainConfig(task="cogs", split="gen").to_json()
    del saved["augment_pool"]
    assert TrainConfig.from_json(saved).augment_pool == 1
    assert TrainConfig.from_json(TrainConfig().to_json()).augment_pool == 3
    with pytest.raises(ValueError, match="augment_pool"):
        TrainConfig(augment_pool=0)


class TestWordPrior:
    """The training pairs' word prior on the predicate and constant heads' "none"."""

    def test_counts_and_log_odds(self):
        from hartflow.hybrid.structure import word_presence

        pairs = [
            (
                ("a", "dax", "blicked", "Bo"),
                (
                    "DAX ( x _ 1 ) AND blick . agent ( x _ 2 , "
                    "x _ 1 ) AND blick . theme ( x _ 2 , Bo )"
                ),
            )
        ]
        pairs = [(c, tuple(o.split())) for c, o in pairs]
        graphs = [parse_graph(c, o, None) for c, o in pairs]
        counts = word_presence(pairs * 3, graphs * 3)
        assert counts == {"a": [3, 0, 3, 0], "dax": [0, 3, 3, 0], "blicked": [0, 3, 3, 0],
                          "Bo": [3, 0, 0, 3]}  # fmt: skip
        vocab = StructureVocab(["<pad>", "<none>", "<unk>", "a", "dax", "wug"], ["<pad>"], [],
                               presence=counts)  # fmt: skip
        bias = vocab.presence_bias(alpha=1.0)
        assert bias.shape == (2, 6)
        assert bias[0, 4] == pytest.approx(math.log(1 / 4))  # "dax" always has a predicate
        assert bias[0, 3] == pytest.approx(math.log(4))  # "a" never has one
        assert bias[:, 5].tolist() == [0.0, 0.0]  # a word training never shows: no prior
        assert StructureVocab.from_json(vocab.to_json()).presence == counts
        assert StructureVocab(["<pad>"], ["<pad>"], []).presence_bias() is None

    def test_the_prior_moves_the_none_decisions(self):
        from hartflow.hybrid.structure_run import refine_structure
        from reasoner.structure import NONE, StructureConfig, StructureRefiner

        cfg = StructureConfig(vocab_words=8, vocab_tokens=6, n_roles=2, dim=32, n_heads=2)
        model = StructureRefiner(cfg, generator=torch.Generator().manual_seed(0)).eval()
        words = torch.tensor([[3, 4, 5, 6]])
        batch = {
            "words": words, "lex": torch.full((1, 4), NONE),
            "hyp_pred": torch.full((1, 4), NONE), "hyp_const": torch.full((1, 4), NONE),
            "hyp_kind": torch.zeros((1, 4), dtype=torch.long),
            "hyp_edges": torch.full((1, 4, 2), -1), "hyp_weight": torch.zeros(1),
        }  # fmt: skip
        presence = torch.zeros(2, 8)
        presence[0, [3, 4]] = 1e4  # words 3, 4: never a predicate; 5, 6: always one
        presence[0, [5, 6]] = -1e4
        presence[1, [3, 5]] = 1e4  # words 3, 5: never a constant; 4, 6: always one
        presence[1, [4, 6]] = -1e4
        decided, _ = refine_structure(model, batch, presence=presence)
        pred, const = decided["pred"][0].tolist(), decided["const"][0].tolist()
        assert [p == NONE for p in pred] == [True, True, False, False]
        assert [c == NONE for c in const] == [True, False, True, False]


class TestFramePrior:
    """The predicates' frames training shows (`StructureVocab.frames`), read by the vote."""

    PAIRS = (
        ("a dax blicked Bo", "DAX ( x _ 1 ) AND blick . agent ( x _ 2 , x _ 1 ) AND "
                             "blick . theme ( x _ 2 , Bo )"),
        ("Bo was blicked", "blick . theme ( x _ 2 , Bo )"),
        ("a dax slept", "DAX ( x _ 1 ) AND sleep . agent ( x _ 2 , x _ 1 )"),
    )  # fmt: skip

    def graphs(self, pairs):
        return [parse_graph(tuple(c.split()), tuple(o.split()), None) for c, o in pairs]

    def test_frames_are_induced_counted_and_saved(self):
        from hartflow.hybrid.structure import frames_of, predicate_frames

        frames = predicate_frames([*self.graphs(self.PAIRS), None])
        # DAX stands alone (a unary conjunct): a noun's modifiers are free, no entry
        assert frames == {"blick": [["agent", "theme"], ["theme"]], "sleep": [["agent"]]}
        vocab = StructureVocab(["<pad>"], ["<pad>"], [], frames=frames)
        assert StructureVocab.from_json(vocab.to_json()).frames == frames
        # the frame is the roles, not their sides: a passive with an agent is the active's frame
        (passive,) = self.graphs([("Bo was blicked by a dax",
                                   "DAX ( x _ 5 ) AND blick . theme ( x _ 2 , Bo ) AND "
                                   "blick . agent ( x _ 2 , x _ 5 )")])  # fmt: skip
        assert ("blick", ("agent", "theme")) in frames_of(passive)
        assert vocab.unseen_frames(passive) == 0
        (odd,) = self.graphs([("a dax slept Bo", "DAX ( x _ 1 ) AND sleep . agent ( x _ 2 , x _ 1 )"
                                                 " AND sleep . theme ( x _ 2 , Bo )")])  # fmt: skip
        assert vocab.unseen_frames(odd) == 1  # sleep never takes a theme in training
        (new,) = self.graphs([("a wug slept", "WUG ( x _ 1 ) AND sleep . agent ( x _ 2 , x _ 1 )")])
        assert vocab.unseen_frames(new) == 0  # a predicate training never shows: no prior
        (pp,) = self.graphs([("a dax on Bo slept", "DAX ( x _ 1 ) AND DAX . nmod . on "
                              "( x _ 1 , Bo ) AND sleep . agent ( x _ 4 , x _ 1 )")])
        assert vocab.unseen_frames(pp) == 0  # a noun with a modifier it never had: free
        assert StructureVocab(["<pad>"], ["<pad>"], []).unseen_frames(odd) == 0  # no prior

    def test_a_checkpoint_without_frames_reads_them_from_its_training_pairs(self):
        from hartflow.hybrid.structure_run import with_frames

        train = [(tuple(c.split()), tuple(o.split())) for c, o in self.PAIRS]
        config = {"vocab": {"words": []}}
        got = with_frames(config, train)["vocab"]["frames"]
        assert got["sleep"] == [["agent"]] and len(got) == 2
        assert with_frames(config, train)["vocab"]["single_constants"] is True
        assert with_frames(config, train)["vocab"]["kinds"]["Bo"] == [2]  # a constant
        assert with_frames(config, train)["vocab"]["attached"] == [2, 5]
        assert with_frames(config, train)["vocab"]["crossings"] == []  # none cross
        saved = {"vocab": {"frames": {"x": [["y"]]}, "single_constants": False, "kinds": {}}}
        assert with_frames(saved, train)["vocab"] == {
            **saved["vocab"], "attached": [2, 5], "crossings": [],
            "left_kinds": {"a": [1], "dax": [0], "was": [0]}}  # fmt: skip
        saved["vocab"].update(attached=[], crossings=[["a", 1, "b", -1]], left_kinds={})
        assert with_frames(saved, train) is saved  # as saved

    def test_word_kinds_are_induced_counted_and_saved(self):
        from hartflow.hybrid.structure import word_kinds

        pairs = [(tuple(c.split()), tuple(o.split())) for c, o in self.PAIRS]
        kinds = word_kinds([*pairs, (("x",), ("x",))], [*self.graphs(self.PAIRS), None])
        # a noun's word: a predicate standing alone (4 + 1); a verb's: a predicate (4); a
        # name: a constant (2); a function word: no node (0)
        assert kinds == {"a": [0], "dax": [5], "blicked": [4], "Bo": [2], "was": [0],
                         "slept": [4]}  # fmt: skip
        vocab = StructureVocab(["<pad>"], ["<pad>"], [], kinds=kinds)
        assert StructureVocab.from_json(vocab.to_json()).kinds == kinds
        (good,) = self.graphs([("a dax blicked Bo", self.PAIRS[0][1])])
        assert vocab.unseen_kinds(good) == 0
        (odd,) = self.graphs([("Bo blicked a dax", "blick ( x _ 1 ) AND blick . agent ( x _ 1 , "
                               "Bo ) AND blick . theme ( x _ 1 , dax )")])  # fmt: skip
        assert vocab.unseen_kinds(odd) == 2  # a verb standing alone, a noun's word a constant
        (new,) = self.graphs([("a wug slept", "WUG ( x _ 1 ) AND sleep . agent ( x _ 2 , x _ 1 )")])
        assert vocab.unseen_kinds(new) == 0  # a word training never shows: no prior
        assert StructureVocab(["<pad>"], ["<pad>"], []).unseen_kinds(odd) == 0  # no prior


class TestJointDecoding:
    """`decode_graph` with the configuration prior: the joint search, the frame prior, and one
    node per constant where training never shows a constant on two."""

    SLOTS = ("out|agent|-1", "in|agent|1", "out|theme|1", "in|theme|-1")

    def decided(self, vocab: StructureVocab) -> dict[str, torch.Tensor]:
        # "wh was blicked ?": the question's constant on the first and the last word; the
        # argmax gives `blick` an agent (the first word) and a theme (the last)
        p = {0: {1: 0.6}, 2: {0: 0.6, 2: 0.9}, 3: {3: 0.9}}  # position -> slot -> P(count 1)
        logp = torch.full((4, 4, 3), math.log(0.01))
        for i in range(4):
            for j in range(4):
                one = p.get(i, {}).get(j, 0.01)
                logp[i, j, 0], logp[i, j, 1] = math.log(1 - one - 0.01), math.log(one)
        t = vocab.token
        return {"kind": torch.zeros(4, dtype=torch.long),
                "pred": torch.tensor([t(None), t(None), t("blick"), t(None)]),
                "const": torch.tensor([t("?"), t(None), t(None), t("?")]),
                "slot_logp": logp}  # fmt: skip

    def vocab(self, single: bool) -> StructureVocab:
        configs = [[[self.SLOTS[0], 1], [self.SLOTS[2], 1]], [[self.SLOTS[2], 1]],
                   [[self.SLOTS[1], 1]], [[self.SLOTS[3], 1]], []]  # fmt: skip
        return StructureVocab(["<pad>", "<none>", "<unk>"], ["<pad>", "<none>", "<unk>", "blick",
                              "?"], ["agent", "theme"], list(self.SLOTS), configs=configs,
                              frames={"blick": [["agent", "theme"], ["theme"]]},
                              single_constants=single)  # fmt: skip

    def test_the_product_of_members_matches_slots_by_name(self):
        from hartflow.hybrid.structure_run import product_graph

        words = ("wh", "was", "blicked", "?")
        lead = self.vocab(False)
        other = self.vocab(False)
        other.slots = list(reversed(self.SLOTS))  # another member's slot columns
        mine = {k: v.numpy() for k, v in self.decided(lead).items()}
        theirs = dict(mine)
        logp = self.decided(lead)["slot_logp"].numpy().copy()
        logp[2, 0, 0], logp[2, 0, 1] = math.log(0.98), math.log(0.01)  # surely no agent
        theirs["slot_logp"] = logp[:, ::-1, :].copy()  # in their column order
        alone = product_graph(words, [mine], [lead], 0)
        assert same_edges(alone.edges, [Edge(2, ("agent",), 0), Edge(2, ("theme",), 3)])
        both = product_graph(words, [mine, theirs], [lead, other], 0)
        assert both.edges == (Edge(2, ("theme",), 3),)  # the mean drops the agent
        assert product_graph(words, [theirs, mine], [other, lead], 1).edges == both.edges

    def test_one_node_per_constant(self):
        words = ("wh", "was", "blicked", "?")
        stats: dict = {}
        two = decode_graph(words, self.decided(self.vocab(False)), self.vocab(False), stats=stats)
        assert same_edges(two.edges, [Edge(2, ("agent",), 0), Edge(2, ("theme",), 3)])
        assert stats["searched"] == 1 and stats["cost"] == 0.0
        vocab = self.vocab(True)
        assert StructureVocab.from_json(vocab.to_json()).single_constants is True
        one = decode_graph(words, self.decided(vocab), vocab, stats=stats)
        # keeping the last word's `?` costs the agent slot; keeping the first word's would
        # cost the theme slot and leave `blick` in a frame training never shows
        assert one.edges == (Edge(2, ("theme",), 3),)
        assert one.nodes[0] == Node() and one.nodes[3].constant == "?"
        assert stats["cost"] > 0

    def test_a_kind_training_never_shows_gives_way_to_the_likeliest_seen_one(self):
        words = ("wh", "was", "blicked", "?")
        vocab = self.vocab(False)
        decided = self.decided(vocab)
        # the kind head: `blicked` stands alone (a unary conjunct) at 0.6, has none at 0.3
        kind_logp = torch.log(torch.tensor([[0.7, 0.1, 0.1, 0.1]] * 4))
        kind_logp[2] = torch.log(torch.tensor([0.3, 0.6, 0.05, 0.05]))
        decided = {**decided, "kind": kind_logp.argmax(-1), "kind_logp": kind_logp}
        assert decode_graph(words, decided, vocab).nodes[2] == Node("blick", unary=True)
        vocab.kinds = {"blicked": [4], "wh": [2]}  # training: a verb's predicate, never alone
        assert decode_graph(words, decided, vocab).nodes[2] == Node("blick")
        vocab.kinds = {"blicked": [4, 5]}  # both seen: as decided
        assert decode_graph(words, decided, vocab).nodes[2] == Node("blick", unary=True)
        vocab.kinds = {"blicked": [2]}  # none of the kind decisions makes a seen one: as decided
        assert decode_graph(words, decided, vocab).nodes[2] == Node("blick", unary=True)
        # the word on the left: training shows no conjunct or marker after `was`
        vocab.kinds, vocab.left_kinds = {}, {"was": [0]}
        assert decode_graph(words, decided, vocab).nodes[2] == Node("blick")
        vocab.left_kinds = {"was": [0, 2]}  # a definite marker is seen, but less likely here
        assert decode_graph(words, decided, vocab).nodes[2] == Node("blick")
        vocab.kinds = {"blicked": [5]}  # standing alone after `was`: the marker keeps both
        assert decode_graph(words, decided, vocab).nodes[2] == Node("blick", definite=True)
        vocab.left_kinds = {"was": [0]}  # the word's own kinds win where both cannot hold
        assert decode_graph(words, decided, vocab).nodes[2] == Node("blick", unary=True)
        from hartflow.hybrid.structure import left_kinds

        graphs = TestFramePrior().graphs(TestFramePrior.PAIRS)
        assert left_kinds([*graphs, None]) == {"a": [1], "dax": [0], "was": [0]}
        vocab.kinds, vocab.left_kinds = {}, {"was": [0]}
        assert StructureVocab.from_json(vocab.to_json()).left_kinds == {"was": [0]}
        del decided["kind_logp"]  # decisions kept before the kind head's log-probabilities
        vocab.kinds = {"blicked": [4]}
        assert decode_graph(words, decided, vocab).nodes[2] == Node("blick", unary=True)

    def test_a_kind_training_always_attaches_is_attached(self):
        from hartflow.hybrid.structure import attached_kinds

        (lone,) = TestFramePrior().graphs([("Bo", "Bo")])  # a lone word's graph: no edges
        graphs = TestFramePrior().graphs(TestFramePrior.PAIRS)
        assert attached_kinds([*graphs, lone, None]) == [2, 5]  # constants, nouns' predicates
        form = "DAX ( x _ 1 ) AND WIF ( x _ 4 ) AND blick . agent ( x _ 2 , x _ 1 )"
        (loose,) = TestFramePrior().graphs([("a dax blicked a wif", form)])
        assert attached_kinds([*graphs, loose]) == [2]  # a noun's predicate seen unattached
        words = ("wh", "was", "blicked", "?")
        vocab = self.vocab(False)
        vocab.frames = {"blick": [["agent", "theme"], ["theme"], []]}
        vocab.__post_init__()
        decided = self.decided(vocab)
        # unsure of the theme: P(blick has one) = P(`?` is one) = 0.3, no agent
        logp = torch.full((4, 4, 3), math.log(0.01))
        logp[:, :, 0] = math.log(0.98)
        for i, j in ((2, 2), (3, 3)):
            logp[i, j, 0], logp[i, j, 1] = math.log(0.69), math.log(0.3)
        decided = {**decided, "slot_logp": logp,
                   "const": torch.tensor([vocab.token(None)] * 3 + [vocab.token("?")])}  # fmt: skip
        stats: dict = {}
        assert decode_graph(words, decided, vocab, stats=stats).edges == ()
        assert stats["cost"] == 0.0
        vocab.attached = [2]  # training always makes a constant some predicate's argument
        assert StructureVocab.from_json(vocab.to_json()).attached == [2]
        graph = decode_graph(words, decided, vocab, stats=stats)
        assert graph.edges == (Edge(2, ("theme",), 3),)
        assert 0 < stats["cost"] < 2 * math.log(0.69 / 0.3) + 1e-6


def test_single_constants_is_read_from_the_graphs():
    from hartflow.hybrid.structure import single_constants

    g = Graph(("a", "b"), (Node(constant="X"), Node(constant="X")), ())
    h = Graph(("a", "b"), (Node(constant="X"), Node(constant="Y")), ())
    assert single_constants([h, None]) and not single_constants([h, g])


def test_without_hypothesis_input_the_memory_only_competes(lf_files, tmp_path):
    """--no-hypothesis-input: the refiner reads the HRR lexicon alone, so its answers do not
    change with the memory's hypotheses, which stay the selector's other candidate."""
    from hartflow.hybrid.data import prepare
    from hartflow.hybrid.evaluation import load_refiner
    from hartflow.hybrid.structure_run import structure_answers

    out = tmp_path / "lexicon-only"
    args = ["train", "--train", str(lf_files[0]), "--test", str(lf_files[1]), "--mode", "hybrid",
            "--out", str(out), "--steps", "20", "--hidden", "32", "--quiet", "--members", "1",
            "--no-hypothesis-input"]  # fmt: skip
    r = runner.invoke(cli.app, args)
    assert r.exit_code == 0, r.output
    model, cfg, _, cfg_json = load_refiner(out)
    assert cfg.hypothesis_input is False and cfg_json["train"]["hypothesis_input"] is False
    data = prepare(cfg, out=out, augment=False)
    commands = [c for c, _ in data.test]
    with_hyps, _ = structure_answers(model, cfg_json, commands, data.test_hyps)
    assert with_hyps == structure_answers(model, cfg_json, commands, None)[0]
    reads = {**cfg_json, "train": {**cfg_json["train"], "hypothesis_input": True}}
    assert structure_answers(model, reads, commands, data.test_hyps)[0] != with_hyps
    for prior in ("--word-prior", "--no-word-prior"):
        r = runner.invoke(cli.app, ["eval", "--mode", "hybrid", "--checkpoint", str(out), "--quiet",
                                    prior])  # fmt: skip
        assert r.exit_code == 0, r.output


def test_the_translation_class_is_evidence():
    """A token training shows only as a constant (a name seen once, alone) gives its word the
    same class evidence as every other name: the class, not the rare token, carries over."""
    from reasoner.structure import StructureConfig, StructureRefiner

    form = "blick . agent ( x _ 1 , Al ) AND blick . theme ( x _ 1 , x _ 3 ) AND DAX ( x _ 3 )"
    pairs = [(("Bo",), ("Bo",)), (("Al", "blicked", "a", "dax"), tuple(form.split(" ")))]
    graphs = [parse_graph(c, o, None) for c, o in pairs]
    vocab = StructureVocab.build(pairs, graphs, {"Bo": "Bo", "Al": "Al", "dax": "DAX"})
    cls = dict(zip(vocab.tokens, vocab.token_class, strict=True))
    assert (cls["Bo"], cls["Al"], cls["blick"], cls["DAX"], cls["<none>"]) == (2, 2, 1, 1, 0)
    assert StructureVocab.from_json(vocab.to_json()).token_class == vocab.token_class
    item = make_item(("Bo", "blicked", "a", "dax"), vocab, hypothesis=None, answer=None,
                     translations={"Bo": "Bo", "dax": "DAX"})  # fmt: skip
    assert item.lex_class.tolist() == [2, 0, 0, 1]
    batch, _ = collate([item], 2)
    assert batch["lex_class"].tolist() == [[2, 0, 0, 1]]
    sizes = dict(vocab_words=len(vocab.words), vocab_tokens=len(vocab.tokens), n_roles=2, dim=32,
                 n_heads=2)  # fmt: skip
    on = StructureRefiner(StructureConfig(**sizes, lex_class=True),
                          generator=torch.Generator().manual_seed(0))  # fmt: skip
    off = StructureRefiner(StructureConfig(**sizes), generator=torch.Generator().manual_seed(0))
    assert "embed_lex_class" in dict(on.named_parameters())
    assert "embed_lex_class" not in dict(off.named_parameters())  # an older checkpoint loads
    assert torch.equal(on.embed_words, off.embed_words)  # the other weights start the same
    with torch.no_grad():
        added = on.embed_inputs(batch) - off.embed_inputs(batch)
        want = on.embed_scale * on.embed_lex_class[torch.tensor([[2, 0, 0, 1]])]
    assert torch.allclose(added, want, atol=1e-5)


def _fails_for_member_one(i: int, *, report) -> int:
    """A job for `run_parallel`: reports, then member 1 fails."""
    from hartflow.errors import HartFlowError

    report(("ran", i))
    if i == 1:
        raise HartFlowError("no such data")
    return i * 10


class TestEnsemble:
    """Members trained side by side, answering by vote (`hartflow.hybrid.ensemble`)."""

    A, B, C, M = ("A",), ("B",), ("C",), ("M",)

    def vote(self, refiner, memory, features=None, hybrid=None):
        from hartflow.hybrid.ensemble import vote

        k = len(refiner)
        features = features or [[{"repairs": 0.0, "slot_margin": 1.0}] for _ in range(k)]
        hybrid = hybrid or [[("H", str(i))] for i in range(k)]
        sources = [[f"hybrid {i}"] for i in range(k)]
        got, src = vote([[r] for r in refiner], hybrid, sources, features, [memory])
        return got[0], src[0]

    def test_two_that_agree_win(self):
        assert self.vote([self.A, self.A], self.M) == (self.A, "vote")
        assert self.vote([self.A, self.B], self.B) == (self.B, "vote")  # the memory's vote
        assert self.vote([None, self.B], self.B) == (self.B, "vote")  # an ill-formed graph: none

    def test_without_agreement_the_surest_members_hybrid_answer(self):
        fewer_repairs = [
            [{"repairs": 2.0, "slot_margin": 9.0}],
            [{"repairs": 0.0, "slot_margin": 0.1}],
        ]
        assert self.vote([self.A, self.B], self.M, fewer_repairs) == (("H", "1"), "hybrid 1")
        wider = [[{"repairs": 1.0, "slot_margin": 3.0}], [{"repairs": 1.0, "slot_margin": 2.0}]]
        assert self.vote([self.A, self.B], None, wider) == (("H", "0"), "hybrid 0")
        assert self.vote([self.A, self.B], self.M)[0] == ("H", "0")  # equal: the first member

    def test_a_frame_training_never_shows_goes_first(self):
        # member 0: fewer repairs, but a predicate in a frame training never shows it with
        feats = [[{"unseen_frames": 1.0, "repairs": 0.0, "slot_margin": 9.0}],
                 [{"unseen_frames": 0.0, "repairs": 2.0, "slot_margin": 0.1}]]  # fmt: skip
        assert self.vote([self.A, self.B], self.M, feats) == (("H", "1"), "hybrid 1")
        feats[1][0]["unseen_frames"] = 1.0  # equal frames: fewer repairs decide
        assert self.vote([self.A, self.B], self.M, feats) == (("H", "0"), "hybrid 0")
        feats[0][0]["unseen_kinds"] = 1.0  # a word made a kind of node training never shows
        assert self.vote([self.A, self.B], self.M, feats) == (("H", "1"), "hybrid 1")

    def test_a_tie_between_winners_goes_to_the_surest_member(self):
        feats = [[{"repairs": 1.0}], [{"repairs": 1.0}], [{"repairs": 0.0}]]
        # A: members 0 and 1; C: member 2 and the memory; member 2 is surest
        assert self.vote([self.A, self.A, self.C], self.C, feats) == (self.C, "vote")
        assert self.vote([self.A, self.A, self.C], self.M, feats) == (self.A, "vote")

    def test_one_member_is_its_own_hybrid(self):
        assert self.vote([self.A], self.A) == (self.A, "vote")
        assert self.vote([self.A], self.M) == (("H", "0"), "hybrid 0")

    def test_members_must_answer_every_command(self):
        from hartflow.hybrid.ensemble import vote

        with pytest.raises(ValueError, match="every member needs 2 answers"):
            vote([[self.A, self.A], [self.A]], [[self.A, self.A]] * 2, [["x", "x"]] * 2,
                 [[{}, {}]] * 2, [None, None])  # fmt: skip

    def test_folders_written_and_read(self, tmp_path):
        from hartflow.errors import HartFlowError
        from hartflow.hybrid.ensemble import member_folders, write_ensemble

        assert member_folders(tmp_path) is None
        outside = tmp_path / "elsewhere" / "run"
        write_ensemble(tmp_path / "ens", [tmp_path / "ens" / "member-0", outside], None)
        saved = json.loads((tmp_path / "ens" / "ensemble.json").read_text())
        assert saved["members"] == ["member-0", str(outside.resolve())]
        assert member_folders(tmp_path / "ens") == [tmp_path / "ens" / "member-0", outside]
        (tmp_path / "ens" / "ensemble.json").write_text("{not json")
        with pytest.raises(HartFlowError, match="not an ensemble file"):
            member_folders(tmp_path / "ens")

    def test_a_failing_job_stops_the_others_with_its_error(self):
        from hartflow.errors import HartFlowError
        from hartflow.hybrid.ensemble import run_parallel

        seen = []
        with pytest.raises(HartFlowError, match="member 1: no such data"):
            run_parallel(_fails_for_member_one, [(0,), (1,)], lambda i, p: seen.append((i, p)))
        assert (1, ("ran", 1)) in seen  # reports travel before the error
        assert run_parallel(_fails_for_member_one, [(0,)]) == [0]  # one job: no process
        assert run_parallel(_fails_for_member_one, [(0,), (2,)]) == [0, 20]

    def test_members_train_resume_and_answer_as_voted(self, lf_files, tmp_path):
        from hartflow.hybrid.ensemble import member_folders

        out = tmp_path / "ens"
        cfg = config(lf_files, tmp_path, mode="hybrid", max_steps=30, augment=0, members=2,
                     seed=3)  # fmt: skip
        rows = []
        result = train(cfg, out=out, progress=rows.append)
        assert [r["step"] for r in result["members"]] == [30, 30] and result["step"] == 60
        assert {r["member"] for r in rows} == {0, 1}  # both report through the parent
        assert member_folders(out) == [out / "member-0", out / "member-1"]
        again = train(cfg, out=out, resume=True)  # finished: nothing more to train
        assert [r["step"] for r in again["members"]] == [30, 30]
        ev = evaluate_refiner(out, batch_size=8, predictions=tmp_path / "p.tsv")
        assert [m["seed"] for m in ev["members"]] == [3, 4] and ev["n"] == 42
        alone = evaluate_refiner(out / "member-1", batch_size=8)
        assert ev["members"][1]["exact_match"] == alone["exact_match"]
        # the answers are the vote over the members' own answers, each found here apart
        from hartflow.hybrid.anchoring import load_anchors
        from hartflow.hybrid.ensemble import vote
        from hartflow.hybrid.evaluation import _answer_member
        from hartflow.hybrid.structure_run import memory_answer

        got = [_answer_member(f, *[None] * 6, 8, "cpu", None, True, keep_rows=True)
               for f in member_folders(out)]  # fmt: skip
        data, anchors = got[0]["data"], load_anchors(got[0]["config"])
        from hartflow.hybrid.evaluation import load_refiner

        assert load_refiner(out / "member-0")[3]["vocab"]["frames"]  # saved with the checkpoint
        assert all("unseen_frames" in f for g in got for f in g["features"])
        memory = [memory_answer(c, h, anchors)
                  for (c, _), h in zip(data.test, data.test_hyps, strict=True)]  # fmt: skip
        voted, sources = vote(
            [g["raw"] for g in got],
            [g["answers"] for g in got],
            [g["sources"] for g in got],
            [g["features"] for g in got],
            memory,
        )
        from hartflow.hybrid.evaluation import product_answers

        assert all(len(g["rows"]) == len(data.test) for g in got)
        voted, sources = product_answers(  # where no two agree, the members' product
            [c for c, _ in data.test], voted, sources, [g["rows"] for g in got],
            [g["features"] for g in got],
            [StructureVocab.from_json(g["config"]["vocab"]) for g in got],
            [ConjunctOrder.from_json(g["config"]["order"]) for g in got],
        )  # fmt: skip
        assert set(sources) <= {"vote", "product"}
        written = [line.split("\t")[2] for line in (tmp_path / "p.tsv").read_text().splitlines()]
        assert written[1:] == [" ".join(a) for a in voted]
        assert ev["answer_sources"].get("vote", 0) > 0
        trace = decode_trace(out, " ".join(data.test[0][0]))
        assert len(trace["members"]) == 2 and trace["answer"] == " ".join(voted[0])
        # a checkpoint saved before the frame prior reads it from its training pairs
        (saved,) = (out / "member-0").glob("checkpoints/*/config.json")
        old = json.loads(saved.read_text())
        del old["vocab"]["frames"]
        saved.write_text(json.dumps(old))  # as an older checkpoint wrote it, digest included
        state = json.loads((saved.parent / "state.json").read_text())
        state["files"]["config.json"] = hashlib.sha256(saved.read_bytes()).hexdigest()
        (saved.parent / "state.json").write_text(json.dumps(state))
        again = decode_trace(out, " ".join(data.test[0][0]))
        assert again["members"][0]["features"] == trace["members"][0]["features"]
        assert "unseen_frames" in again["members"][0]["features"]
        sequence = config(lf_files, tmp_path, members=2, refiner_kind="sequence", max_steps=2)
        from hartflow.errors import HartFlowError

        with pytest.raises(HartFlowError, match="--members applies to the structure refiner"):
            train(sequence, out=tmp_path / "seq")


def test_slot_counts_cover_every_count_training_shows():
    """Four nested control verbs give their subject four incoming agent edges from the right:
    the count head needs five classes (a fixed four crashed a SLOG run's recombined pairs)."""
    from hartflow.hybrid.structure import slot_count_classes

    words = ["dax", "wanted", "to", "tried", "to", "hoped", "to", "walked"]
    nodes = [Node(pred=w.upper()) if w != "to" else Node() for w in words]
    verbs = [i for i, w in enumerate(words) if w not in ("dax", "to")]
    four = Graph(tuple(words), tuple(nodes), tuple(Edge(v, ("agent",), 0) for v in verbs))
    assert slot_count_classes([four]) == 5
    assert slot_count_classes([Graph(tuple(words), tuple(nodes), (Edge(1, ("agent",), 0),))]) == 4
    assert slot_count_classes([]) == 4
