"""Evaluate a trained refiner (hybrid or TRM-only) and trace one command through its recursion."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from hartflow.checkpoint import latest_checkpoint, load_checkpoint, read_config
from hartflow.data.logical_form import ConjunctOrder, conjunct_set
from hartflow.data.slog_metric import official_match
from hartflow.errors import HartFlowError
from hartflow.hybrid.anchoring import load_anchors
from hartflow.hybrid.batching import collate, make_items
from hartflow.hybrid.config import TrainConfig
from hartflow.hybrid.data import K_CACHE, prepare
from hartflow.hybrid.ensemble import member_folders, run_parallel, vote
from hartflow.hybrid.hypotheses import build_reasoner, hypotheses_for
from hartflow.hybrid.structure import StructureVocab, render_graph
from hartflow.hybrid.training import build_model
from hartflow.hybrid.unseen import StandIns, renamed_trace, stand_in_commands
from hartflow.hybrid.vocab import Vocab
from hartflow.predictions import Prediction, official_scores, write_predictions
from hartflow.zeroshot.lexicon import induce_lexicon
from reasoner.ema import EMA
from reasoner.refiner import Refiner, RefinerConfig

Tokens = tuple[str, ...]


def _checkpoint_folder(path: str | Path) -> Path:
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    found = latest_checkpoint(path)
    if found is None:
        raise HartFlowError(
            f"no checkpoint in {path}; train one with hartflow train ... --out {path}"
        )
    return found


def load_refiner(checkpoint: str | Path) -> tuple[Any, TrainConfig, Any, dict]:
    """The refiner (sequence or structure) with its EMA weights loaded, its training config,
    vocabulary and config.json."""
    folder = _checkpoint_folder(checkpoint)
    config = read_config(folder)
    kind = config.get("kind")
    if kind not in ("hybrid-refiner", "structure-refiner"):
        raise HartFlowError(f"{folder} is not a refiner checkpoint (written by hartflow train)")
    cfg = TrainConfig.from_json(config["train"])
    if kind == "structure-refiner":
        from hartflow.hybrid.structure import StructureVocab
        from hartflow.hybrid.structure_run import build_structure_model
        from reasoner.structure import StructureConfig

        model = build_structure_model(StructureConfig(**config["structure"]), cfg.seed)
        vocab: Any = StructureVocab.from_json(config["vocab"])
    else:
        model = build_model(RefinerConfig(**config["refiner"]), cfg.seed)
        vocab = Vocab.from_json(config["vocab"])
    ema = EMA(model)
    load_checkpoint(folder, model=model, ema=ema, restore_rng=False)
    model.load_state_dict({**model.state_dict(), **ema.state_dict()})
    model.eval()
    return model, cfg, vocab, config


@torch.no_grad()
def refine(
    model: Refiner, batch: dict[str, torch.Tensor], *, trace: bool = False
) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """Run every supervision step (eval ignores halting); the last step's argmax answers.

    Returns:
        (predicted ids (B, La), trace rows: supervision step, cycle, ids, halting probability).
    """
    x = model.embed_inputs(batch)
    state, rows = None, []
    for s in range(model.cfg.max_halt_steps):
        state, out = model(batch, state, x=x, trace=trace)
        for c, (ids, p_halt) in enumerate(out.trace):
            rows.append({"step": s + 1, "cycle": c + 1, "ids": ids, "halt": p_halt})
    return out.logits.argmax(-1), rows


def evaluate_refiner(
    checkpoint: str | Path,
    task: str | None = None,
    split: str | None = None,
    *,
    data_dir: str | Path | None = None,
    train: str | Path | None = None,
    test: str | Path | None = None,
    mode: str | None = None,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = 1,
    device: str = "cpu",
    max_test: int | None = None,
    predictions: str | Path | None = None,
    word_prior: bool = True,
) -> dict[str, Any]:
    """Exact match of a trained refiner on a split's test set (the trained one by default).
    `word_prior=False` answers a structure checkpoint without its word prior.

    `predictions` names a TSV to write one line per example into (input, gold, answer,
    category, correct); for SLOG the result adds its official metric (`official_match`).

    The result has the fields of `hartflow.evaluation.evaluate` plus `hypothesis_exact_match`
    (the memory's top hypothesis alone, i.e. HRR-only, in hybrid mode), `fixed` (wrong
    hypothesis made right) and `broken` (right hypothesis made wrong).
    """
    start = time.perf_counter()
    if threads is not None:
        torch.set_num_threads(threads)
    args = (task, split, data_dir, train, test, mode, batch_size, device, max_test, word_prior)
    folders = member_folders(checkpoint)
    if folders is None:
        answered = _answer_member(checkpoint, *args, threads, report=progress)
        members: list[dict[str, Any]] = []
    else:  # an ensemble: its members answer side by side, then vote
        answered, members = _answer_ensemble(folders, args, threads, progress)
    cfg, config, run_cfg, data = (answered[k] for k in ("cfg", "config", "run_cfg", "data"))
    preds, raw = dict(enumerate(answered["answers"])), answered["raw"]
    sources, halting = answered["sources"], answered["halting"]
    correct, hyp_correct, fixed, broken, unordered = 0, 0, 0, 0, 0
    per_cat, total_cat, unordered_cat, hyp_cat = Counter(), Counter(), Counter(), Counter()
    structure = config["kind"] == "structure-refiner"
    rows: list[Prediction] = []
    for i, (command, answer) in enumerate(data.test):
        hit = preds[i] == answer
        rows.append(Prediction(" ".join(command), " ".join(answer),
                               None if preds[i] is None else " ".join(preds[i]),
                               data.test_categories[i], hit))  # fmt: skip
        same_set = hit or (
            structure and preds[i] is not None
            and conjunct_set(" ".join(preds[i])) == conjunct_set(" ".join(answer))
        )  # fmt: skip
        unordered += same_set
        top = data.test_hyps[i][0] if data.test_hyps and data.test_hyps[i] else None
        hyp_hit = top is not None and top.source == "answer" and top.tokens == answer
        correct += hit
        hyp_correct += hyp_hit
        fixed += hit and not hyp_hit
        broken += hyp_hit and not hit
        cat = data.test_categories[i]
        if cat:
            total_cat[cat] += 1
            per_cat[cat] += hit
            unordered_cat[cat] += same_set
            hyp_cat[cat] += hyp_hit
    n = len(data.test)
    result: dict[str, Any] = {
        "task": run_cfg.task if run_cfg.train_file is None else "files",
        "split": run_cfg.split if run_cfg.train_file is None else f"{train} -> {test}",
        "mode": cfg.mode,
        "n": n,
        "exact_match": correct / n,
        "seconds": time.perf_counter() - start,
        "answered": n,
        "unanswerable": 0,
        "checkpoint": str(checkpoint) if folders else str(_checkpoint_folder(checkpoint)),
        "parameters": config.get("parameters"),
        "refiner": "structure" if structure else "sequence",
        "k": cfg.k,
        **answered["shape"],
    }
    if cfg.mode == "hybrid":
        result.update(hypothesis_exact_match=hyp_correct / n, fixed=fixed, broken=broken)
        if total_cat:
            result["hypothesis_per_category"] = {
                c: hyp_cat[c] / m for c, m in sorted(total_cat.items())
            }
    if total_cat:
        result["per_category"] = {c: per_cat[c] / m for c, m in sorted(total_cat.items())}
    if structure:
        gold = [a for _, a in data.test]
        if raw is not None:  # an ensemble reports it per member
            result["refiner_alone_exact_match"] = _match(raw, gold)  # before the selector
        result["answer_sources"] = dict(sorted(Counter(sources).items()))
        if halting is not None:
            result["halting_rule_exact_match"] = _match(halting, gold)
            if run_cfg.task == "slog":
                result["halting_rule_official_match"] = _match(halting, gold, official=True)
        result["selector"] = answered["selector"]
        result["order_insensitive_match"] = unordered / n
        result["ill_formed"] = sum(p is None for p in preds.values())
        # commands holding words training never shows, answered through stand-ins
        result["stand_ins"] = sum(bool(r) for r in answered["stand_ins"]["renames"])
        if total_cat:
            result["per_category_order_insensitive"] = {
                c: unordered_cat[c] / m for c, m in sorted(total_cat.items())
            }
    if run_cfg.task == "slog" and run_cfg.train_file is None:
        result.update(official_scores(rows))
    if members:
        result["members"] = members
    if predictions is not None:
        write_predictions(predictions, rows)
        result["predictions"] = str(predictions)
    return result


def _answer_member(
    checkpoint: str | Path, task, split, data_dir, train, test, mode, batch_size, device,
    max_test, word_prior, threads: int | None = None, sample_seed: int | None = None, *,
    report=None, keep_rows: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """One checkpoint's answers to its test set: the hybrid's (`answers`, `sources`), the refiner's
    alone (`raw`), the halting rule's (`halting`), the selector's features, and what scoring
    needs (`cfg`, `config`, `run_cfg`, `data`, `selector`, `shape`). `report(done, total)`
    follows the answering; `max_test` samples the test set by `sample_seed` (the run's seed by
    default); `keep_rows` adds every command's decisions (`rows`, for the product decoding)."""
    if threads is not None:
        torch.set_num_threads(threads)
    progress = report
    model, cfg, vocab, config = load_refiner(checkpoint)
    model.to(device)
    if mode is not None and mode != cfg.mode:
        raise HartFlowError(
            f"{checkpoint} was trained in mode {cfg.mode!r}; evaluate it with --mode {cfg.mode}"
        )
    overrides: dict[str, Any] = {}
    if task is not None or train is not None:
        overrides = {"task": task, "split": split, "data_dir": None if data_dir is None
                     else str(data_dir), "train_file": None if train is None else str(train),
                     "test_file": None if test is None else str(test)}  # fmt: skip
    run_cfg = TrainConfig.from_json({**cfg.to_json(), **overrides})
    out_dir = _checkpoint_folder(checkpoint).parent.parent
    fields = ("task", "split", "data_dir", "train_file", "test_file")
    same = all(getattr(run_cfg, f) == getattr(cfg, f) for f in fields)
    prefer = config.get("hypotheses_cache") if same else None
    slots = config["vocab"] if config["kind"] == "structure-refiner" else {}
    old_slots = bool(slots.get("slots")) and not slots.get("configs")  # reads the prior from them
    data = prepare(run_cfg, out=out_dir, prefer=prefer, augment=old_slots,
                   keep_train_hyps=False)
    if max_test is not None and max_test < len(data.test):
        seed = cfg.seed if sample_seed is None else sample_seed
        keep = sorted(random.Random(seed).sample(range(len(data.test)), max_test))
        data.test = [data.test[i] for i in keep]
        data.test_categories = [data.test_categories[i] for i in keep]
        data.test_hyps = None if data.test_hyps is None else [data.test_hyps[i] for i in keep]
    commands = [c for c, _ in data.test]
    if config["kind"] == "structure-refiner":
        from hartflow.hybrid.selector import Selector
        from hartflow.hybrid.structure_run import (
            hybrid_answers,
            memory_answers,
            structure_answers,
            with_configurations,
        )

        config = with_configurations(config, data)
        if not word_prior:  # counts present but empty: no prior, none counted on loading
            config = {**config, "vocab": {**config["vocab"], "presence": {}}}

        commands, hyps, renames = stand_in_commands(config, data, commands, run_cfg)
        rows: list | None = [] if keep_rows else None
        raw, features = structure_answers(
            model, config, commands, hyps, batch_size=batch_size, device=device,
            progress=progress, keep=rows,
        )  # fmt: skip
        selector = Selector.from_json(config.get("selector"))
        memory = memory_answers(commands, hyps, load_anchors(config))
        answers, sources = hybrid_answers(
            raw, features, hyps, commands, anchors=load_anchors(config), selector=selector,
            memory=memory,
        )  # fmt: skip
        halting, _ = hybrid_answers(  # the halting head's rule alone, for comparison
            raw, features, hyps, commands, anchors=load_anchors(config), selector=Selector(),
            memory=memory,
        )  # fmt: skip
        answers, raw, halting = ([StandIns.rename(a, r) for a, r in zip(x, renames, strict=True)]
                                 for x in (answers, raw, halting))  # fmt: skip
        preds = dict(enumerate(answers))
    else:
        preds = _sequence_answers(
            model, config, cfg, vocab, commands, data.test_hyps, batch_size=batch_size,
            device=device, progress=progress,
        )  # fmt: skip
    shape = {"n_cycles": model.cfg.n_cycles, "n_latent_steps": model.cfg.n_latent_steps,
             "max_halt_steps": model.cfg.max_halt_steps}  # fmt: skip
    out = {"cfg": cfg, "config": config, "run_cfg": run_cfg, "data": data, "shape": shape,
           "answers": [preds[i] for i in range(len(commands))]}  # fmt: skip
    if config["kind"] == "structure-refiner":
        out.update(raw=raw, features=features, sources=sources, halting=halting,
                   selector=selector.to_json(), rows=rows,
                   stand_ins={"commands": commands, "renames": renames},
                   memory=memory)  # fmt: skip
    else:
        out.update(raw=out["answers"], features=None, sources=None, halting=None, selector=None)
    return out


def _match(answers: Sequence[Tokens | None], gold: Sequence[Tokens], official: bool = False
           ) -> float:  # fmt: skip
    """The share of answers that match gold: exactly, or by SLOG's official metric."""
    if official:
        hits = sum(official_match(None if p is None else " ".join(p), " ".join(a))
                   for p, a in zip(answers, gold, strict=True))  # fmt: skip
    else:
        hits = sum(p == a for p, a in zip(answers, gold, strict=True))
    return hits / len(gold)


def _structure_members(folders: list[Path]) -> list[dict]:
    """The members' config.json, each checked to be a structure refiner's."""
    configs = [read_config(_checkpoint_folder(f)) for f in folders]
    for f, c in zip(folders, configs, strict=True):
        if c.get("kind") != "structure-refiner":
            raise HartFlowError(f"{f}: an ensemble's members must be structure refiners")
    return configs


def _answer_for_vote(*args: Any, report=None) -> dict[str, Any]:
    """`_answer_member` in a member's process, its data cut to what the vote reads (the test
    pairs, categories and hypotheses), so that little travels back."""
    got = _answer_member(*args, report=lambda d, t: report((d, t)) if report else None,
                         keep_rows=True)  # fmt: skip
    got["data"] = replace(got["data"], train=[], train_hyps=None, augmented=[],
                          augmented_hyps=None)  # fmt: skip
    return got


def _answer_ensemble(
    folders: list[Path], args: tuple, threads: int | None, progress
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The members' answers (side by side, one process each) and the vote's (as `_answer_member`
    returns them, member 0's data; no single refiner's or halting rule's answers), with each
    member's own scores."""
    configs = _structure_members(folders)
    done: dict[int, tuple[int, int]] = {}

    def on_report(i: int, p: tuple[int, int]) -> None:
        done[i] = p
        if progress is not None:
            progress(sum(d for d, _ in done.values()), p[1] * len(folders))

    seed = TrainConfig.from_json(configs[0]["train"]).seed  # one test sample for all
    got = run_parallel(_answer_for_vote, [(f, *args, threads, seed) for f in folders], on_report)
    first = got[0]
    gold = [a for _, a in first["data"].test]
    for f, g in zip(folders[1:], got[1:], strict=True):
        if [a for _, a in g["data"].test] != gold:
            raise HartFlowError(f"{f} answers another test set than {folders[0]}")
    stand = first["stand_ins"]  # unseen words replaced (`stand_in_commands`): the same for all
    commands, renames = stand["commands"], stand["renames"]
    memory = [StandIns.rename(m, r) for m, r in zip(first["memory"], renames, strict=True)]
    answers, sources = vote(
        [g["raw"] for g in got],
        [g["answers"] for g in got],
        [g["sources"] for g in got],
        [g["features"] for g in got],
        memory,
    )
    answers, sources = product_answers(
        commands, answers, sources, [g["rows"] for g in got], [g["features"] for g in got],
        [StructureVocab.from_json(g["config"]["vocab"]) for g in got],
        [ConjunctOrder.from_json(g["config"]["order"]) for g in got],
    )  # fmt: skip
    answers = [StandIns.rename(a, r) for a, r in zip(answers, renames, strict=True)]
    slog = first["run_cfg"].task == "slog" and first["run_cfg"].train_file is None
    members = []
    for f, g in zip(folders, got, strict=True):
        row = {"checkpoint": str(f), "seed": g["cfg"].seed,
               "exact_match": _match(g["answers"], gold),
               "refiner_alone_exact_match": _match(g["raw"], gold)}  # fmt: skip
        if slog:
            row["official_match"] = _match(g["answers"], gold, official=True)
        members.append(row)
    agree = sum(len({g["raw"][i] for g in got}) == 1 and first["raw"][i] is not None
                for i in range(len(gold)))  # fmt: skip
    config = {**first["config"], "parameters": sum(c.get("parameters") or 0 for c in configs)}
    ensemble = {**first, "config": config, "answers": answers, "sources": sources, "raw": None,
                "rows": None,
                "halting": None,
                "selector": {"vote": "members' graphs + memory; else the surest member's hybrid",
                             "members_agree": agree / len(gold)}}  # fmt: skip
    return ensemble, members


def product_answers(
    commands: Sequence[Tokens],
    answers: Sequence[Tokens | None],
    sources: Sequence[str],
    rows: Sequence[Sequence[dict]],
    features: Sequence[Sequence[dict[str, float]]],
    vocabs: Sequence[StructureVocab],
    orders: Sequence[ConjunctOrder],
) -> tuple[list[Tokens | None], list[str]]:
    """Where no two of the vote's candidates agree (source other than "vote"), the members
    decode once more together: the mean of their slot log-probabilities (a product of experts)
    decoded with the most confident member's labels, decoder and priors
    (`structure_run.product_graph`). Its answer, where it renders, replaces the vote's (source
    "product").

    Args:
        commands, answers, sources: the vote's answers and sources.
        rows: per member, its decisions on every command (`answer_rows`' `keep`).
        features: per member, its answers' features (the confidence reads them).
        vocabs, orders: per member, its `StructureVocab` and conjunct order.
    """
    from hartflow.hybrid.ensemble import confidence
    from hartflow.hybrid.structure_run import product_graph

    answers, sources = list(answers), list(sources)
    for i, source in enumerate(sources):
        if source == "vote":
            continue
        lead = max(range(len(rows)), key=lambda k: confidence(features[k][i]))
        graph = product_graph(commands[i], [r[i] for r in rows], vocabs, lead)
        answer = render_graph(graph, orders[lead])
        if answer is not None:
            answers[i], sources[i] = answer, "product"
    return answers, sources


def _sequence_answers(
    model, config, cfg, vocab, commands, hyps, *, batch_size, device, progress
) -> dict[int, tuple[str, ...]]:
    items = make_items(vocab, commands, None, hyps, k=cfg.k, hrr_dim=cfg.feature_dim, seed=cfg.seed)
    order = sorted(range(len(items)), key=lambda i: (len(items[i].command), _hyp_len(items[i])))
    preds: dict[int, tuple[str, ...]] = {}
    for lo in range(0, len(order), batch_size):
        idx = order[lo : lo + batch_size]
        batch = collate(
            [items[i] for i in idx], k=cfg.k, no_hypothesis_slots=config["no_hypothesis_slots"],
            fixed_len=model.cfg.seq_len,
        )  # fmt: skip
        ids, _ = refine(model, {k: v.to(device) for k, v in batch.items()})
        ids = ids.cpu()
        for i, row in zip(idx, ids, strict=True):
            preds[i] = vocab.decode_answer(row)
        if progress:
            progress(min(lo + batch_size, len(order)), len(order))
    return preds


def _hyp_len(item) -> int:
    return len(item.hypotheses[0][0]) if item.hypotheses else 0


def decode_trace(checkpoint: str | Path, command: str, *, _keep: bool = False) -> dict[str, Any]:
    """One command through the refiner: its hypotheses, then y decoded after every outer cycle
    of every supervision step, with the halting probability. An ensemble traces its first
    member and answers as `evaluate_refiner` does: by the members' vote, else by their product
    decoding (`members`: each one's answers)."""
    folders = member_folders(checkpoint)
    if folders is not None:
        _structure_members(folders)
        return _ensemble_trace([decode_trace(f, command, _keep=True) for f in folders])
    model, cfg, vocab, config = load_refiner(checkpoint)
    words = tuple(command.split())
    if not words:
        raise HartFlowError("the command is empty; pass some words")
    structure = config["kind"] == "structure-refiner"
    known = set(vocab.words) if structure else vocab.known_words()
    unknown = [w for w in words if w not in known]
    hyps, data = None, None
    priors = {"presence", "frames", "single_constants", "kinds", "attached", "crossings",
              "left_kinds"}
    old_structure = structure and not priors <= set(config["vocab"])
    if cfg.mode == "hybrid" or old_structure or (structure and unknown):
        # an old checkpoint counts its priors; an unseen word's stand-in is read from the pairs
        trm = TrainConfig.from_json({**cfg.to_json(), "mode": "trm"})
        data = prepare(trm, out=Path("."), augment=False)
    renames: dict[str, str] = {}
    if structure and unknown:
        from hartflow.hybrid.structure_run import with_frames

        kinds = with_frames(config, data.train)["vocab"]["kinds"]
        words, renames = StandIns.build(data.train, induce_lexicon(data.train),
                                        kinds).substitute(words)  # fmt: skip
        unknown = [w for w in words if w not in known]
    if unknown:
        raise HartFlowError(f"unknown words for this checkpoint: {', '.join(unknown)}")
    if cfg.mode == "hybrid":
        reasoner = build_reasoner(data.train, d=cfg.hrr_d, k=K_CACHE, seed=cfg.seed)
        hyps = hypotheses_for(reasoner, [words], k=cfg.k)
    shown = [
        {"answer": " ".join(h.tokens), "score": h.score, "source": h.source}
        for h in (hyps[0] if hyps else [])
    ]
    if config["kind"] == "structure-refiner":
        from hartflow.hybrid.structure_run import structure_trace, with_frames, with_word_prior

        if old_structure:
            config = with_frames(with_word_prior(config, data.train), data.train)
        traced = structure_trace(model, config, words, hyps[0] if hyps else None, keep=_keep)
        if renames:
            traced = renamed_trace(traced, tuple(command.split()), words, renames)
        return {"command": command, "mode": cfg.mode, "refiner": "structure",
                "hypotheses": shown, **traced}  # fmt: skip
    items = make_items(vocab, [words], None, hyps, k=cfg.k, hrr_dim=cfg.feature_dim, seed=cfg.seed)
    batch = collate(items, k=cfg.k, no_hypothesis_slots=config["no_hypothesis_slots"],
                    fixed_len=model.cfg.seq_len)  # fmt: skip
    ids, rows = refine(model, batch, trace=True)
    return {
        "command": command,
        "mode": cfg.mode,
        "refiner": "sequence",
        "hypotheses": shown,
        "trace": [
            {
                "step": r["step"],
                "cycle": r["cycle"],
                "answer": " ".join(vocab.decode_answer(r["ids"][0])),
                "halt_probability": float(r["halt"][0]),
            }
            for r in rows
        ],
        "answer": " ".join(vocab.decode_answer(ids[0])),
    }


def _ensemble_trace(traces: list[dict[str, Any]]) -> dict[str, Any]:
    """The members' traces of one command combined: the first member's trace, the ensemble's
    answer and source (`product_answers` after the vote), and every member's own answers."""

    def tokens(text: str | None) -> tuple[str, ...] | None:
        return None if text is None or text.startswith("(") else tuple(text.split())

    kept = [t.pop("_product") for t in traces]
    command, renames = tuple(traces[0]["command"].split()), {}
    if len(kept[0]) > 3:  # unseen words answered through stand-ins (`renamed_trace`)
        command, renames = kept[0][3], kept[0][4]
    kept = [k[:3] for k in kept]
    (answer,), (source,) = vote(
        [[tokens(t["refiner_answer"])] for t in traces], [[tokens(t["answer"])] for t in traces],
        [[t["answer_source"]] for t in traces], [[t["features"]] for t in traces],
        [tokens(traces[0]["memory_answer"])],
    )  # fmt: skip
    (answer,), (source,) = product_answers(
        [command], [answer], [source], [[r] for r, _, _ in kept],
        [[t["features"]] for t in traces], [v for _, v, _ in kept], [o for _, _, o in kept],
    )  # fmt: skip
    answer = StandIns.rename(answer, renames)
    members = [{k: t[k] for k in ("refiner_answer", "answer", "answer_source", "features")}
               for t in traces]  # fmt: skip
    return {**traces[0], "answer": "(no answer)" if answer is None else " ".join(answer),
            "answer_source": source, "members": members}  # fmt: skip
