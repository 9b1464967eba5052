"""Training and evaluating the structure refiner on position-indexed logical forms (COGS, SLOG).

`StructureTrainer` is the hybrid `Trainer` (deep supervision, ACT, EMA, checkpoints, resume, data
parallel) with the structure refiner's model, batches and loss. The memory's evidence is built
once per run: the HRR lexicon's reading of every training word (`translations`), and each pair's
best memory hypothesis (cross-fitted for the training pairs, as in the sequence hybrid).
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from hartflow.data.logical_form import ConjunctOrder, Graph
from hartflow.data.slots import configurations, crossing_types
from hartflow.errors import HartFlowError
from hartflow.hybrid.anchoring import Anchoring, Anchors, induce_anchoring, load_anchors, reanchor
from hartflow.hybrid.hypotheses import Hypothesis
from hartflow.hybrid.priors import (
    attached_kinds,
    left_kinds,
    predicate_frames,
    single_constants,
    word_kinds,
    word_presence,
)
from hartflow.hybrid.selector import Selector, choose, fit_selector
from hartflow.hybrid.structure import (
    StructureItem,
    StructureVocab,
    collate,
    decode_graph,
    graph_or_error,
    make_item,
    parse_graph,
    render_graph,
    slot_count_classes,
)
from hartflow.hybrid.training import Trainer
from hartflow.zeroshot.lexicon import LexiconMemory, induce_lexicon
from reasoner.structure import (
    NONE,
    StructureConfig,
    StructureRefiner,
    StructureState,
    decisions,
    structure_loss,
)

log = logging.getLogger(__name__)
Tokens = tuple[str, ...]


def read_translations(train: Sequence[tuple[Tokens, Tokens]], *, d: int, seed: int) -> dict:
    """{word: token}: every training word's translation, induced from co-occurrence and read back
    from the HRR lexicon memory (unbind + cleanup); function words have none."""
    lexicon = induce_lexicon(train)
    if not lexicon:
        return {}
    memory = LexiconMemory(lexicon, d=d, seed=seed)
    words = sorted(lexicon)
    return {w: t for w, (t, _) in zip(words, memory.translate(words), strict=True) if t}


def best_hypothesis(hyps: list[Hypothesis] | None) -> tuple[Tokens, str] | None:
    """The memory's first hypothesis (the zero-shot answer, else the nearest skeleton's)."""
    return (hyps[0].tokens, hyps[0].source) if hyps else None


def structure_config(cfg, vocab: StructureVocab, *, max_len: int) -> StructureConfig:
    """The structure refiner's config from a `TrainConfig` (the same size and recursion fields
    as the sequence refiner's)."""
    return StructureConfig(
        vocab_words=len(vocab.words),
        vocab_tokens=len(vocab.tokens),
        n_roles=max(1, len(vocab.roles)),
        n_slots=len(vocab.slots),
        evidence=cfg.mode == "hybrid",
        dim=cfg.dim,
        n_heads=cfg.n_heads,
        expansion=cfg.expansion,
        max_distance=cfg.max_distance,
        window=cfg.window,
        max_len=max_len,
        n_cycles=cfg.n_cycles,
        n_latent_steps=cfg.n_latent_steps,
        max_halt_steps=cfg.max_halt_steps,
        lex_class=bool(vocab.token_class),
    )


def build_structure_model(cfg: StructureConfig, seed: int) -> StructureRefiner:
    """The structure refiner, its initial weights fixed by `seed` (identical on every rank)."""
    return StructureRefiner(cfg, generator=torch.Generator().manual_seed(seed))


class StructureTrainer(Trainer):
    """The hybrid trainer with the structure refiner (see the module docstring)."""

    def setup(self) -> None:
        cfg, train = self.cfg, self.data.train
        self.anchors = induce_lexicon(train)  # ties constants to words (data alignment only)
        parsed = [graph_or_error(c, o, self.anchors) for c, o in train]
        graphs = [g for g, _ in parsed]
        self.skipped = sum(g is None for g in graphs)  # outputs that are no graph: not trained
        self.skipped_lines = []
        if self.skipped:
            where = _locations(cfg)
            self.skipped_lines = [
                f"{where.get(p, 'training pair ' + str(i + 1))}: {why}"
                for i, (p, (_, why)) in enumerate(zip(train, parsed, strict=True)) if why
            ]  # fmt: skip
            shown = "; ".join(self.skipped_lines[:3])
            more = f" (and {self.skipped - 3} more)" if self.skipped > 3 else ""
            if cfg.strict:
                raise HartFlowError(
                    f"{self.skipped} training line(s) are not logical forms over their input: "
                    f"{shown}{more}; fix them, or drop --strict to skip them"
                )
            log.warning(
                "skipped %d training line(s) that are not logical forms over their input: %s%s "
                "(listed in the run's config.json; --strict makes this an error)",
                self.skipped, shown, more,
            )  # fmt: skip
            train = [p for p, g in zip(train, graphs, strict=True) if g is not None]
            graphs = [g for g in graphs if g is not None]
        # a constant that another word could carry (a question's `?`) stands where the graph
        # looks most like the training graphs without such a choice (`hybrid.anchoring`)
        self.anchoring = induce_anchoring(train, graphs) if cfg.reanchor else Anchoring()
        if self.anchoring:
            self.anchors = Anchors(self.anchors, self.anchoring)
            graphs = [reanchor(g, self.anchoring) for g in graphs]
        self.order = ConjunctOrder.induce(g for g in graphs if g is not None)
        hybrid = cfg.mode == "hybrid"
        self.translations = read_translations(train, d=cfg.hrr_d, seed=cfg.seed) if hybrid else {}
        self.vocab = StructureVocab.build(train, [g for g in graphs if g], self.translations,
                                          slots=cfg.edge_output == "slots")  # fmt: skip
        self.vocab.presence = word_presence(train, graphs)
        self.vocab.frames = predicate_frames(graphs)
        self.vocab.single_constants = single_constants(graphs)
        self.vocab.kinds = word_kinds(train, graphs)
        self.vocab.attached = attached_kinds(graphs)
        self.vocab.crossings = crossings_of(graphs)
        self.vocab.left_kinds = left_kinds(graphs)
        longest = max(len(c) for c, _ in [*train, *self.data.test])
        hyps = self.data.train_hyps if hybrid else None
        if hyps is not None and self.skipped:
            keep = set(map(tuple, train))
            hyps = [h for p, h in zip(self.data.train, hyps, strict=True) if tuple(p) in keep]
        self.n_original = len(train)
        if self.data.augmented:  # recombined pairs: more of the same local decisions
            train = [*train, *self.data.augmented]
        shown = [g for g in graphs if g is not None]
        shown += [parse_graph(c, o, self.anchors) for c, o in self.data.augmented]
        # a slot's count classes: as many as training (+ recombination) shows, at least 0 … 3
        # (a node that is the target of four nested clauses of one role: four incoming edges)
        self.model_cfg = replace(
            structure_config(cfg, self.vocab, max_len=max(512, 2 * longest)),
            slot_counts=slot_count_classes(g for g in shown if g),
        )
        self.model = build_structure_model(self.model_cfg, cfg.seed)
        if self.vocab.slots:  # the decoder's prior: configurations training (+ recombination) shows
            self.vocab.configs = sorted(configurations(g for g in shown if g is not None))
            self.vocab.config_set = set(self.vocab.configs) or None
            if hyps is not None:
                hyps = [*hyps, *(self.data.augmented_hyps or [[]] * len(self.data.augmented))]
        given = hyps if cfg.hypothesis_input else None
        items: list[StructureItem] = [
            make_item(c, self.vocab, translations=self.translations, anchors=self.anchors,
                      hypothesis=best_hypothesis(given[i]) if given else None, answer=o)
            for i, (c, o) in enumerate(train)
        ]  # fmt: skip
        # held out from training, to fit the selector on: original and recombined pairs alike
        held = set(_held_out(self.n_original, len(train), cfg.selector_holdout, cfg.seed)
                   if hybrid else [])  # fmt: skip
        self.items = [it for i, it in enumerate(items) if i not in held]
        self.held = [(train[i], items[i], hyps[i] if hyps else None) for i in sorted(held)]
        self.selector = Selector()

    def make_batch(self, rows: list[int], g: torch.Generator):
        return collate(
            [self.items[i] for i in rows], self.model_cfg.n_roles, n_slots=self.model_cfg.n_slots,
            corruption=self.cfg.corruption,
            word_dropout=self.cfg.word_dropout, generator=g,
        )  # fmt: skip

    def loss(self, out, labels):
        return structure_loss(out, labels)

    def run(self, **kwargs) -> dict[str, Any]:
        """Train (the hybrid `Trainer.run`), then fit the selector on the held-out pairs and
        write it into the last checkpoint's config."""
        result = super().run(**kwargs)
        if self.held and self.ctx.is_main:
            self.selector = self.fit_selector()
            log.info("selector fitted on %s", self.selector.fitted_on)
            self.save()
        return result

    def fit_selector(self) -> Selector:
        """The selector, fitted on the held-out pairs with the EMA weights' answers."""
        model = copy.deepcopy(self.model).cpu()
        shadow = {k: v.cpu() for k, v in self.ema.state_dict().items()}
        model.load_state_dict({**model.state_dict(), **shadow})
        model.eval()
        commands = [c for (c, _), _, _ in self.held]
        answers, features = answer_rows(model, commands, [it for _, it, _ in self.held],
                                        self.vocab, self.order)  # fmt: skip
        refiner_right, memory_right = [], []
        for ((c, gold), _, h), a, f in zip(self.held, answers, features, strict=True):
            f["memory_score"] = float(h[0].score) if h else 0.0
            refiner_right.append(a == gold)
            memory_right.append(memory_answer(c, h, self.anchors) == gold)
        return fit_selector(features, refiner_right, memory_right)

    def config_json(self) -> dict[str, Any]:
        from reasoner.refiner import count_parameters

        return {
            "kind": "structure-refiner",
            "train": self.cfg.to_json(),
            "structure": self.model_cfg.to_json(),
            "vocab": self.vocab.to_json(),
            "order": self.order.to_json(),
            "translations": self.translations,
            "anchors": dict(self.anchors),
            "anchoring": self.anchoring.to_json() if self.anchoring else None,
            "selector": self.selector.to_json(),
            "skipped_training_pairs": self.skipped,
            "skipped_training_lines": self.skipped_lines[:100],
            "hypotheses_cache": self.data.cache_file,
            "parameters": count_parameters(self.model),
        }


def _held_out(n_original: int, n_total: int, per_part: int, seed: int) -> list[int]:
    """Row indices held out for the selector: up to `per_part` original and as many recombined
    rows (at most a tenth of each part), drawn by `seed`."""
    rng = random.Random(seed)
    out = []
    for lo, hi in ((0, n_original), (n_original, n_total)):
        k = min(per_part, (hi - lo) // 10)
        out += rng.sample(range(lo, hi), k) if k > 0 else []
    return out


def _locations(cfg) -> dict[tuple[Tokens, Tokens], str]:
    """`file:line` of every training pair of the run (for messages about bad lines)."""
    from hartflow.data import load_examples, tokens

    parts = load_examples(
        None if cfg.train_file else cfg.task, None if cfg.train_file else cfg.split,
        data_dir=cfg.data_dir, train=cfg.train_file, test=cfg.test_file,
    )  # fmt: skip
    return {(tuple(tokens(e.input)), tuple(tokens(e.output))): f"{e.path}:{e.line}"
            for e in reversed(parts["train"]) if e.line}  # fmt: skip


@torch.no_grad()
def refine_structure(
    model: StructureRefiner,
    batch: dict[str, torch.Tensor],
    *,
    trace: bool = False,
    presence: torch.Tensor | None = None,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Every supervision step (eval ignores halting); the last step's decisions (with "p_halt",
    the halting head's probability that they are exactly right, and "label_margin" (B, L), the
    smallest log-probability margin of a position's label decisions), and per outer cycle the
    decisions and halting probability when `trace`. `presence` (2, n_words) is added to the
    predicate and constant heads' "none" (`StructureVocab.presence_bias`: the word prior)."""
    state: StructureState | None = None
    rows: list[dict[str, Any]] = []
    x = model.embed_inputs(batch)  # the same at every step
    steps = model.cfg.max_halt_steps
    for s in range(steps):  # without a trace only the last step's heads are read
        state, out = model(batch, state, trace=trace, inputs=x, heads=trace or s == steps - 1)
        if out is None:
            continue
        p_halt = torch.sigmoid(out.q_halt_logits)
        for c, decided in enumerate(out.trace):
            rows.append({"step": s + 1, "cycle": c + 1, "decisions": decided, "halt": p_halt})
    if presence is not None:
        pred, const = out.pred.clone(), out.const.clone()
        bias = presence.to(pred.device)[:, batch["words"]]
        pred[..., NONE] += bias[0]
        const[..., NONE] += bias[1]
        out = replace(out, pred=pred, const=const)
    margins = [_margin(x) for x in (out.pred, out.kind, out.const)]
    label_margin = torch.stack(margins, -1).amin(-1)  # (B, L)
    return {**decisions(out), "p_halt": p_halt, "label_margin": label_margin}, rows


def _margin(logits: torch.Tensor) -> torch.Tensor:
    """Top-1 minus top-2 log-probability over the last axis."""
    top = torch.log_softmax(logits.float(), -1).topk(2, dim=-1).values
    return top[..., 0] - top[..., 1]


def answer_rows(
    model: StructureRefiner,
    commands: Sequence[Tokens],
    items: Sequence[StructureItem],
    vocab: StructureVocab,
    order: ConjunctOrder,
    *,
    batch_size: int = 64,
    device: str = "cpu",
    progress=None,
    keep: list | None = None,
) -> tuple[list[Tokens | None], list[dict[str, float]]]:
    """The refiner's answer to every command (None where its graph is ill-formed), and the
    selector's features of it (`hartflow.hybrid.selector.FEATURES` less the memory's score):
    the halting probability, the weakest slot and label margins, the decoder's repairs and
    cost. `keep` (a list) receives every command's decisions as numpy arrays (`decode_graph`
    reads them; slot log-probabilities in float16), for an ensemble's product decoding."""
    by_len = sorted(range(len(items)), key=lambda i: len(commands[i]))
    presence = vocab.presence_bias()
    answers: list[Tokens | None] = [None] * len(items)
    features: list[dict[str, float]] = [{} for _ in items]
    for lo in range(0, len(by_len), batch_size):
        idx = by_len[lo : lo + batch_size]
        batch, _ = collate([items[i] for i in idx], model.cfg.n_roles, n_slots=model.cfg.n_slots)
        decided, _ = refine_structure(model, {k: v.to(device) for k, v in batch.items()},
                                      presence=presence)  # fmt: skip
        decided = {k: v.cpu() for k, v in decided.items()}
        p_halt, label_margin = decided.pop("p_halt"), decided.pop("label_margin")
        for b, i in enumerate(idx):
            n = len(commands[i])
            row = {k: v[b, :n] for k, v in decided.items()}
            if keep is not None:
                keep.append((i, {k: (v.half() if k == "slot_logp" else v).numpy().copy()
                                 for k, v in row.items()}))  # fmt: skip
            stats: dict = {}
            graph = decode_graph(commands[i], row, vocab, stats=stats)
            answers[i] = render_graph(graph, order)
            slot_margin = 0.0
            if "slot_logp" in row and row["slot_logp"].numel():
                slot_margin = float(_margin(row["slot_logp"]).min())
            features[i] = {
                "p_halt": float(p_halt[b]), "slot_margin": min(slot_margin, 30.0),
                "label_margin": min(float(label_margin[b, :n].min()), 30.0),
                "repairs": float(stats.get("repairs", 0)), "length": float(n),
                "cost": float(stats.get("cost", 0.0)),
                "unseen_frames": float(vocab.unseen_frames(graph)),
                "unseen_kinds": float(vocab.unseen_kinds(graph)),
            }  # fmt: skip
        if progress:
            progress(min(lo + batch_size, len(by_len)), len(by_len))
    if keep is not None:  # in the commands' order
        keep[:] = [row for _, row in sorted(keep, key=lambda x: x[0])]
    return answers, features


def product_graph(words: Tokens, rows: Sequence[dict], vocabs: Sequence[StructureVocab],
                  lead: int) -> Graph:  # fmt: skip
    """The graph of several members' decisions on one command (`answer_rows`' `keep`): the
    `lead` member's labels and decoder (its vocabulary's priors) over the mean of every member's
    slot log-probabilities, matched by slot name (a slot or count another member lacks: the lead's
    own log-probability)."""
    row = dict(rows[lead])
    own = np.asarray(row["slot_logp"], dtype=np.float32)
    total = own.copy()
    for k, other in enumerate(rows):
        if k == lead:
            continue
        theirs = np.asarray(other["slot_logp"], dtype=np.float32)
        column = {name: j for j, name in enumerate(vocabs[k].slots)}
        aligned = own.copy()
        for j, name in enumerate(vocabs[lead].slots):
            if name in column:
                c = min(own.shape[2], theirs.shape[2])
                aligned[:, j, :c] = theirs[:, column[name], :c]
        total += aligned
    row["slot_logp"] = total / len(rows)
    return decode_graph(words, row, vocabs[lead])


def structure_answers(
    model: StructureRefiner,
    config: dict,
    commands: Sequence[Tokens],
    hyps: Sequence[list[Hypothesis]] | None,
    *,
    batch_size: int = 64,
    device: str = "cpu",
    progress=None,
    keep: list | None = None,
) -> tuple[list[Tokens | None], list[dict[str, float]]]:
    """A structure checkpoint's graphs rendered (its vocabulary, conjunct order, translations),
    and the selector's features of each (`answer_rows`, plus the memory's score); `keep` as
    for `answer_rows`."""
    vocab = StructureVocab.from_json(config["vocab"])
    order = ConjunctOrder.from_json(config["order"])
    translations, anchors = config.get("translations", {}), load_anchors(config)
    given = hyps if hypothesis_input(config) else None
    items = [
        make_item(c, vocab, translations=translations, anchors=anchors,
                  hypothesis=best_hypothesis(given[i]) if given else None, answer=None)
        for i, c in enumerate(commands)
    ]  # fmt: skip
    answers, features = answer_rows(
        model, commands, items, vocab, order, batch_size=batch_size, device=device,
        progress=progress, keep=keep,
    )  # fmt: skip
    for i, f in enumerate(features):
        f["memory_score"] = float(hyps[i][0].score) if hyps and hyps[i] else 0.0
    return answers, features


def hypothesis_input(config: dict) -> bool:
    """Whether a structure checkpoint reads the memory's best hypothesis as evidence."""
    return bool(config.get("train", {}).get("hypothesis_input", True))


def memory_answer(
    command: Tokens, hyps: list[Hypothesis] | None, anchors: dict[str, str] | None = None
) -> Tokens | None:
    """The zero-shot reasoner's answer rendered through the codec (its graph, in its own conjunct
    order), or None where it gave none or its answer is no graph over the command (ill-formed:
    e.g. an `AND` inside the definite prefix)."""
    if not hyps or hyps[0].source != "answer":
        return None
    graph = parse_graph(command, hyps[0].tokens, anchors)
    return None if graph is None else render_graph(graph, None)


def memory_answers(commands: Sequence[Tokens], hyps: Sequence[list[Hypothesis]] | None,
                   anchors: dict[str, str] | None) -> list[Tokens | None]:  # fmt: skip
    """`memory_answer` of every command (all None without hypotheses)."""
    if not hyps:
        return [None] * len(commands)
    return [memory_answer(c, h, anchors) for c, h in zip(commands, hyps, strict=True)]


def with_word_prior(config: dict, train: Sequence[tuple[Tokens, Tokens]]) -> dict:
    """A structure checkpoint's config with the word prior (`StructureVocab.presence`): as
    saved, or, for a checkpoint trained before it existed, counted on its training pairs."""
    vocab, anchors = config["vocab"], load_anchors(config)
    if "presence" in vocab:
        return config
    presence = word_presence(train, [parse_graph(c, o, anchors) for c, o in train])
    return {**config, "vocab": {**vocab, "presence": presence}}


def with_frames(config: dict, train: Sequence[tuple[Tokens, Tokens]]) -> dict:
    """A structure checkpoint's config with the frame prior (`StructureVocab.frames`), the
    single-constant rule (`StructureVocab.single_constants`), the word kinds
    (`StructureVocab.kinds`), the attachment, crossing and left-word priors
    (`StructureVocab.attached`, `crossings`, `left_kinds`): as saved,
    or, for a checkpoint trained before they existed, read from its training pairs."""
    vocab, anchors = config["vocab"], load_anchors(config)
    if {"frames", "single_constants", "kinds", "attached", "crossings", "left_kinds"} <= set(vocab):
        return config
    graphs = [parse_graph(c, o, anchors) for c, o in train]
    return {**config, "vocab": {
        **vocab, "frames": vocab.get("frames", predicate_frames(graphs)),
        "single_constants": vocab.get("single_constants", single_constants(graphs)),
        "kinds": vocab.get("kinds", word_kinds(train, graphs)),
        "attached": vocab.get("attached", attached_kinds(graphs)),
        "crossings": vocab.get("crossings", crossings_of(graphs)),
        "left_kinds": vocab.get("left_kinds", left_kinds(graphs))}}  # fmt: skip


def crossings_of(graphs) -> list[list]:
    """The crossing prior (`StructureVocab.crossings`) of the training graphs (None skipped),
    as saved: sorted lists."""
    return [list(c) for c in sorted(crossing_types(g for g in graphs if g is not None))]


def with_configurations(config: dict, data) -> dict:
    """A structure checkpoint's config with the decoder's priors: as saved, or, for a checkpoint
    trained before a prior existed, read from the same training pairs (`data`, as `prepare`
    makes them for the run's settings): the configuration prior (slots; with the recombined
    pairs), the word prior and the frame prior."""
    config = with_frames(with_word_prior(config, data.train), data.train)
    vocab, anchors = config["vocab"], load_anchors(config)
    if not vocab.get("slots") or vocab.get("configs"):
        return config
    graphs = [parse_graph(c, o, anchors) for c, o in [*data.train, *data.augmented]]
    configs = sorted(configurations(g for g in graphs if g is not None))
    return {**config, "vocab": {**vocab, "configs": [[list(x) for x in c] for c in configs]}}


def hybrid_answers(
    refiner: Sequence[Tokens | None],
    features: Sequence[dict[str, float]],
    hyps: Sequence[list[Hypothesis]] | None,
    commands: Sequence[Tokens],
    *,
    anchors: dict[str, str] | None,
    selector: Selector,
    memory: Sequence[Tokens | None] | None = None,
) -> tuple[list[Tokens | None], list[str]]:
    """The hybrid's answers: the memory's (through the codec) and the refiner's graph where they
    agree or only one exists, else the selector's choice; and each answer's source. Where
    neither is a well-formed graph, the memory's first hypothesis that is one (a neighbour's
    instantiation) stands, so an answer is ill-formed only where no hypothesis parses."""
    if hyps is None:
        return list(refiner), ["refiner"] * len(refiner)
    if memory is None:
        memory = memory_answers(commands, hyps, anchors)
    answers, sources = choose(refiner, memory, features, selector)
    for i, a in enumerate(answers):
        if a is None:
            for h in hyps[i]:
                graph = parse_graph(commands[i], h.tokens, anchors)
                answers[i] = None if graph is None else render_graph(graph, None)
                if answers[i] is not None:
                    sources[i] = "memory neighbour"
                    break
    return answers, sources


def graph_rows(command: Tokens, decided: dict[str, torch.Tensor], vocab: StructureVocab) -> dict:
    """One command's decisions as readable rows: per position its predicate, kind, constant and
    edges (`role → target word`)."""
    graph = decode_graph(command, {k: v[0, : len(command)] for k, v in decided.items()}, vocab)
    rows = []
    for i, (word, node) in enumerate(zip(command, graph.nodes, strict=True)):
        edges = [f"{' . '.join(e.role)} → {e.target}:{command[e.target]}"
                 for e in graph.edges if e.head == i]  # fmt: skip
        kind = "+".join(k for k, on in (("unary", node.unary), ("definite", node.definite)) if on)
        rows.append({"position": i, "word": word, "pred": node.pred, "kind": kind,
                     "constant": node.constant, "edges": edges})  # fmt: skip
    return {"graph": graph, "rows": rows}


def structure_trace(
    model: StructureRefiner, config: dict, command: Tokens, hyps: list[Hypothesis] | None,
    *, keep: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """One command through the structure refiner: the graph after every outer cycle of every
    supervision step, with the halting probability, and the answer. `keep` adds "_product":
    the decisions, vocabulary and conjunct order an ensemble's product decoding reads."""
    vocab = StructureVocab.from_json(config["vocab"])
    order = ConjunctOrder.from_json(config["order"])
    item = make_item(command, vocab, translations=config.get("translations", {}),
                     anchors=load_anchors(config),
                     hypothesis=best_hypothesis(hyps) if hypothesis_input(config) else None,
                     answer=None)  # fmt: skip
    batch, _ = collate([item], model.cfg.n_roles, n_slots=model.cfg.n_slots)
    decided, rows = refine_structure(model, batch, trace=True, presence=vocab.presence_bias())
    steps = []
    for r in rows:
        g = graph_rows(command, r["decisions"], vocab)
        answer = render_graph(g["graph"], order)
        steps.append({"step": r["step"], "cycle": r["cycle"], "graph": g["rows"],
                      "answer": None if answer is None else " ".join(answer),
                      "halt_probability": float(r["halt"][0])})  # fmt: skip
    decided.pop("p_halt")
    decided.pop("label_margin")
    final = graph_rows(command, decided, vocab)
    answer = render_graph(final["graph"], order)
    memory = memory_answer(command, hyps, load_anchors(config))
    selector = Selector.from_json(config.get("selector"))
    kept: list = []
    features = answer_rows(model, [command], [item], vocab, order, keep=kept)[1][0]
    features["memory_score"] = float(hyps[0].score) if hyps else 0.0
    (chosen,), (source,) = choose([answer], [memory], [features], selector)
    extra = {"_product": (kept[0], vocab, order)} if keep else {}
    return {
        **extra,
        "graph": final["rows"],
        "refiner_answer": "(ill-formed graph)" if answer is None else " ".join(answer),
        "memory_answer": None if memory is None else " ".join(memory),
        "answer": "(no answer)" if chosen is None else " ".join(chosen),
        "answer_source": source,
        "features": features,
        "trace": steps,
    }
