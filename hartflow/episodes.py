"""Few-shot grammar episodes: a seeded generator, MiniSCAN, and scoring a folder of episodes.

An episode is a tiny language in fresh nonsense words, after the few-shot instruction-learning
studies (Lake, Linzen & Baroni 2019; Lake & Baroni 2023): 3-5 primitives, each one output
symbol; 2-4 function words, each a random form over its arguments' interpretations (unary
repetition `x w -> [x] [x] [x]` as prefix or postfix, or binary `x w y -> [y] [x] [y]`, length
2-4); a random binding order. About 14 study pairs show every primitive, each function on
primitives (except, in some episodes, one function seen only nested), and combinations chosen
because they tell binding orders apart; one primitive is seen only alone. 10 queries nest the
functions 2-3 deep in new ways, each with one answer under every grammar of the family that
fits the study pairs (all binding orders, either associativity, any form for a function seen
only nested). Meaning is the precedence parse of `hartflow.zeroshot.rules.Parser`. The
long-form family (`generate(seed, max_form=8, own_tokens=True)`): binary forms of 2-8
references, repetition x2-x6, and function words that also emit their own token.

A folder of episodes holds `NAME_train.txt` and `NAME_test.txt` (SCAN format) per episode.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hartflow.data.formats import Example, read_examples, write_examples
from hartflow.errors import DataError, HartFlowError
from hartflow.zeroshot import Parser, Rule, ZeroShotReasoner

Tokens = tuple[str, ...]
Pair = tuple[Tokens, Tokens]
MAX_OUTPUT = 48  # longest query output the generator keeps


@dataclass
class Episode:
    """Study pairs, queries and the grammar that made them (`rules`: {word: Rule})."""

    name: str
    study: list[Pair]
    queries: list[Pair]
    rules: dict[str, Rule] = field(default_factory=dict)
    hidden: str = ""  # a function seen only nested in the study pairs


def form_name(rule: Rule) -> str:
    """'postfix x3', 'prefix x2', 'infix [x][y][x]': a form's label in tables; forms longer
    than 4 references are labelled by length ('infix 7 refs'), and '+ own token' is added."""
    refs = sum(isinstance(i, int) for i in rule.form)
    own = " + own token" if rule.own() else ""
    if rule.arity == 1:
        return f"{rule.fixity} x{refs}{own}"
    if refs > 4:
        return f"infix {refs} refs{own}"
    return "infix " + "".join("[" + "xy"[i] + "]" if isinstance(i, int) else "t" for i in rule.form)


def forms(fixity: str, max_form: int = 4) -> list[tuple[int, ...]]:
    """Every form of a fixity up to `max_form` references, shortest first: (0,), (0, 0), … or
    (0,), (1,), (0, 0), … (the family a hidden function's form is drawn from)."""
    arity = 2 if fixity == "infix" else 1
    return [f for n in range(1, max_form + 1) for f in itertools.product(range(arity), repeat=n)]


# ------------------------------------------------------------------------------------- meaning
def meaning(command: Tokens, rules: dict[str, Rule], lexicon: dict[str, str], *, right=False):
    """The output of `command` under a grammar (None when it does not parse)."""
    if len(command) == 1:
        return (lexicon[command[0]],) if command[0] in lexicon else None
    single = {(w,): (t,) for w, t in lexicon.items()}
    return Parser(rules, right=right).interpret(command, single.get)[0]


def _depth(command: Tokens, rules: dict[str, Rule]) -> int:
    nodes = Parser(rules).parse(command)
    depth = {0: 0}
    for i, n in enumerate(nodes):
        for c in n.children:
            depth[c] = depth[i] + (n.rule is not None)
    return max(depth[i] + (n.rule is not None) for i, n in enumerate(nodes))


# ----------------------------------------------------------------------------------- generator
def _words(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    out = []
    while len(out) < n:
        w = rng.choice("bdfgklmnprstvwz") + rng.choice("aeiou") + rng.choice("bdfgklmnprstxz")
        w += rng.choice(["", "", "i", "o", "et", "ip"])
        if w not in taken:
            taken.add(w)
            out.append(w)
    return out


def _render(tree, rules: dict[str, Rule]) -> Tokens:
    """A tree (a primitive word, or (function word, args…)) as its surface words."""
    out: list[str] = []
    todo = [tree]
    while todo:
        t = todo.pop()
        if isinstance(t, str):
            out.append(t)
            continue
        w, *args = t
        fix = rules[w].fixity
        seq = [w, args[0]] if fix == "prefix" else [args[0], w] if fix == "postfix" else [
            args[0], w, args[1]]  # fmt: skip
        todo.extend(reversed(seq))
    return tuple(out)


def _tree(rng: random.Random, depth: int, functions: list[str], rules, leaves: list[str]):
    if depth == 0:
        return rng.choice(leaves)
    w = rng.choice(functions)
    deep = _tree(rng, depth - 1, functions, rules, leaves)
    if rules[w].arity == 1:
        return (w, deep)
    other = _tree(rng, rng.randrange(depth), functions, rules, leaves)
    return (w, deep, other) if rng.random() < 0.5 else (w, other, deep)


def _hypotheses(rules: dict[str, Rule], hidden: str) -> list[dict[str, Rule]]:
    """Every grammar of the family a learner must tell apart: all binding orders, and any form
    of the hidden function."""
    out = []
    hidden_forms = [None]
    if hidden:  # every form of up to 4 references, and the true one (which may be longer)
        hidden_forms = list(dict.fromkeys([*forms(rules[hidden].fixity), rules[hidden].form]))
    for order in itertools.permutations(rules):
        for f in hidden_forms:
            out.append({
                w: Rule(w, r.fixity, f if w == hidden else r.form, level=order.index(w))
                for w, r in rules.items()
            })  # fmt: skip
    return out


def generate(
    seed: int,
    *,
    n_study: int = 14,
    n_queries: int = 10,
    hide: float = 0.25,
    hide_primitive: float = 0.0,
    max_form: int = 4,
    own_tokens: bool = False,
) -> Episode:
    """One seeded episode (see the module docstring). Raises DataError if the seed gives no
    episode with enough determined queries (rare; take another seed).

    `hide_primitive`: the share of episodes where one primitive used in other study pairs is
    not shown alone (a stress variant outside the family: its meaning must come from
    co-occurrence, which the determinacy check does not cover). `max_form` > 4: the long-form
    family, binary forms of 2..max_form references (length first, then the form, uniformly)
    and unary repetition x2..x(min(max_form, 6)). `own_tokens`: each function word, with
    probability 1/2, also emits its own fresh token at a random place in its form (as SCAN's
    `x left -> LTURN [x]`). With the defaults the episodes are today's family, unchanged."""
    if not 2 <= max_form <= 16:
        raise DataError(f"max_form must be in 2..16, got {max_form} (today's family uses 4)")
    rng = random.Random(seed)
    taken: set[str] = set()
    prims = _words(rng, rng.randint(3, 5), taken)
    funcs = _words(rng, rng.randint(2, 4), taken)
    symbols = _words(rng, len(prims), set())
    lexicon = {w: s.upper() for w, s in zip(prims, symbols, strict=True)}
    order = rng.sample(funcs, len(funcs))  # loosest first
    extra = random.Random(seed * 7919 + 1)  # its own stream: the default episodes stay the same
    long = random.Random(seed * 104729 + 7)  # the long-form and own-token choices
    rules = {}
    own = {s.upper() for s in symbols}  # output symbols taken
    for w in funcs:
        if rng.random() < 0.4:
            fix, form = rng.choice(["prefix", "postfix"]), (0,) * rng.randint(2, 4)
            if max_form > 4:
                form = (0,) * long.randint(2, min(max_form, 6))
        else:
            fix = "infix"
            form = rng.choice([f for f in forms("infix") if len(f) >= 2 and set(f) == {0, 1}])
            if max_form > 4:
                n = long.randint(2, max_form)
                form = ()
                while set(form) != {0, 1}:  # both arguments used
                    form = tuple(long.randrange(2) for _ in range(n))
        if own_tokens and long.random() < 0.5:
            token = next(t for t in iter(lambda: _words(long, 1, set())[0].upper(), None)
                         if t not in own)  # fmt: skip
            own.add(token)
            at = long.randint(0, len(form))
            form = (*form[:at], token, *form[at:])
        rules[w] = Rule(w, fix, form, level=order.index(w))
    alone = prims[-1] if len(prims) >= 4 else ""  # seen only alone in the study pairs
    leaves = [p for p in prims if p != alone]
    hidden = rng.choice(funcs) if rng.random() < hide else ""

    def truth(cmd):
        return meaning(cmd, rules, lexicon)

    study: dict[Tokens, Tokens] = {(p,): (lexicon[p],) for p in prims}
    for w in funcs:
        if w != hidden:
            a, b = rng.sample(leaves, 2)
            cmd = _render((w, a, b) if rules[w].arity == 2 else (w, a), rules)
            study[cmd] = truth(cmd)
    # combinations that tell grammars apart, most informative first
    alive = _hypotheses(rules, hidden)
    pool = {_render(_tree(rng, 2, funcs, rules, leaves), rules) for _ in range(80)}
    pool = sorted(c for c in pool if c not in study and _unambiguous(c, rules, lexicon))
    outs = {c: [meaning(c, h, lexicon) for h in alive] for c in pool}  # (pool, hypotheses)
    keep = list(range(len(alive)))
    while len(study) < n_study and len(keep) > 1 and pool:
        best = max(pool, key=lambda c: sum(outs[c][k] != truth(c) for k in keep))
        if all(outs[best][k] == truth(best) for k in keep):
            break
        study[best] = truth(best)
        keep = [k for k in keep if outs[best][k] == truth(best)]
        pool.remove(best)
    alive = [alive[k] for k in keep]
    for c in pool[: max(0, n_study - len(study))]:
        study[c] = truth(c)
    queries: dict[Tokens, Tokens] = {}
    for _ in range(400):
        cmd = _render(_tree(rng, rng.choice([2, 3]), funcs, rules, prims), rules)
        out = truth(cmd)
        if cmd in study or cmd in queries or out is None or len(out) > MAX_OUTPUT:
            continue
        if _depth(cmd, rules) not in (2, 3) or not _unambiguous(cmd, rules, lexicon):
            continue
        if all(meaning(cmd, h, lexicon) == out for h in alive):
            queries[cmd] = out
        if len(queries) == n_queries:
            break
    if len(queries) < n_queries:
        raise DataError(f"seed {seed}: only {len(queries)} determined queries; try another seed")
    study_pairs = list(study.items())
    rng.shuffle(study_pairs)
    if extra.random() < hide_primitive:
        used = [p for p in leaves if any(p in i and len(i) > 1 for i, _ in study_pairs)]
        if used:
            gone = (extra.choice(used),)
            study_pairs = [(i, o) for i, o in study_pairs if i != gone]
    return Episode(f"episode{seed:04d}", study_pairs, list(queries.items()), rules, hidden)


def _unambiguous(cmd: Tokens, rules, lexicon) -> bool:
    """Whether the meaning is the same with either associativity."""
    return meaning(cmd, rules, lexicon) == meaning(cmd, rules, lexicon, right=True)


def miniscan() -> Episode:
    """MiniSCAN (Lake, Linzen & Baroni 2019): its 14 study instructions and grammar (fep binds
    tightest, kiki loosest); the 10 queries are ours, built like the paper's: new nestings and
    the primitive seen only alone ('zup')."""
    study = """dax:RED|lug:BLUE|wif:GREEN|zup:YELLOW|lug fep:BLUE BLUE BLUE|dax fep:RED RED RED
    |lug blicket wif:BLUE GREEN BLUE|wif blicket dax:GREEN RED GREEN|lug kiki wif:GREEN BLUE
    |dax kiki lug:BLUE RED|lug fep kiki wif:GREEN BLUE BLUE BLUE
    |lug kiki wif fep:GREEN GREEN GREEN BLUE|wif kiki dax blicket lug:RED BLUE RED GREEN
    |wif blicket dax kiki lug:BLUE GREEN RED GREEN"""
    rules = {
        "kiki": Rule("kiki", "infix", (1, 0), level=0),
        "blicket": Rule("blicket", "infix", (0, 1, 0), level=1),
        "fep": Rule("fep", "postfix", (0, 0, 0), level=2),
    }
    lexicon = {"dax": "RED", "lug": "BLUE", "wif": "GREEN", "zup": "YELLOW"}
    queries = [
        "zup fep", "zup blicket lug", "dax blicket zup", "zup kiki lug", "wif kiki zup",
        "zup fep kiki lug", "wif kiki zup fep", "lug kiki wif blicket zup",
        "zup blicket wif kiki dax fep", "zup blicket zup kiki zup fep",
    ]  # fmt: skip
    pairs = [tuple(tuple(x.split()) for x in p.split(":")) for p in study.split("|")]
    qs = [(tuple(q.split()), meaning(tuple(q.split()), rules, lexicon)) for q in queries]
    assert [meaning(i, rules, lexicon) for i, _ in pairs] == [o for _, o in pairs]
    return Episode("miniscan", pairs, qs, rules)


# ------------------------------------------------------------------------------------- scoring
def score(episode: Episode, *, d: int = 256) -> dict[str, Any]:
    """Build the zero-shot reasoner from the study pairs, answer the queries.

    Returns:
        {"name", "n", "exact_match", "solved", "seconds", "wrong": [(query, answer, target)],
         "by_form": {form: [correct, total]}} (by_form only when the grammar is known).
    """
    start = time.perf_counter()
    reasoner = ZeroShotReasoner(d=d).fit(episode.study)
    answers = reasoner.answer_many([q for q, _ in episode.queries])
    hits = [a.tokens == out for a, (_, out) in zip(answers, episode.queries, strict=True)]
    seconds = time.perf_counter() - start
    by_form: dict[str, list[int]] = {}
    for hit, (q, _) in zip(hits, episode.queries, strict=True):
        for name in {form_name(episode.rules[w]) for w in q if w in episode.rules}:
            by_form.setdefault(name, [0, 0])
            by_form[name][0] += hit
            by_form[name][1] += 1
    return {
        "name": episode.name,
        "n": len(hits),
        "exact_match": sum(hits) / len(hits),
        "solved": all(hits),
        "seconds": seconds,
        "wrong": [
            (" ".join(q), " ".join(a.tokens) if a.tokens else f"(none: {a.reason})", " ".join(o))
            for hit, a, (q, o) in zip(hits, answers, episode.queries, strict=True)
            if not hit
        ],
        "by_form": by_form,
    }


def write_episodes(folder: str | Path, episodes: Sequence[Episode]) -> Path:
    """Write NAME_train.txt and NAME_test.txt per episode (SCAN format)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for e in episodes:
        for part, pairs in (("train", e.study), ("test", e.queries)):
            rows = [Example(" ".join(i), " ".join(o)) for i, o in pairs]
            write_examples(folder / f"{e.name}_{part}.txt", rows, "scan")
    return folder


def read_episodes(folder: str | Path) -> Iterator[Episode]:
    """Every NAME_train.txt / NAME_test.txt pair in a folder, by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"episodes folder not found: {folder}; pass a folder of NAME_train.txt "
                        "and NAME_test.txt files")  # fmt: skip
    names = sorted(p.name[: -len("_train.txt")] for p in folder.glob("*_train.txt"))
    if not names:
        raise DataError(f"no NAME_train.txt files in {folder}; each episode needs "
                        "NAME_train.txt and NAME_test.txt")  # fmt: skip
    for name in names:
        test = folder / f"{name}_test.txt"
        pairs = [
            [(tuple(e.input.split()), tuple(e.output.split())) for e in read_examples(p, "scan")]
            for p in (folder / f"{name}_train.txt", test)
        ]
        yield Episode(name, pairs[0], pairs[1])


def evaluate_episodes(folder: str | Path, *, mode: str = "hrr", d: int = 256) -> dict[str, Any]:
    """Score every episode in a folder: per episode, and the mean over episodes."""
    if mode != "hrr":
        raise HartFlowError(
            f"--episodes scores the zero-shot reasoner, built per episode; use --mode hrr "
            f"(got {mode!r}: a trained refiner has no per-episode training)"
        )
    rows = [score(e, d=d) for e in read_episodes(folder)]
    return {
        "folder": str(folder),
        "mode": "hrr",
        "episodes": rows,
        "mean_exact_match": sum(r["exact_match"] for r in rows) / len(rows),
        "solved": sum(r["solved"] for r in rows) / len(rows),
        "seconds": sum(r["seconds"] for r in rows),
    }
