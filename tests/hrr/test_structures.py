"""Structure codecs round-trip within their capacity: sequences, records, trees."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import hrr
from hrr import HRRError, Tree, TreeCodec, Vocabulary

WORDS = [f"w{i}" for i in range(40)]


class TestSequence:
    @given(tokens=st.lists(st.sampled_from(WORDS), min_size=1, max_size=24))
    def test_round_trip_within_capacity(self, tokens):
        vocab = Vocabulary(1024, WORDS)
        v = hrr.encode_sequence(tokens, vocab)
        assert hrr.decode_sequence(v, len(tokens), vocab).symbols == tokens

    def test_batch_of_ragged_sequences(self):
        vocab = Vocabulary(512, WORDS)
        seqs = [["w1", "w2", "w3"], ["w4"], ["w5", "w5"]]
        v = hrr.encode_sequence(seqs, vocab)
        assert v.shape == (3, 512)
        assert torch.allclose(v[1], hrr.encode_sequence(["w4"], vocab), atol=1e-6)
        got = hrr.decode_sequence(v, 3, vocab, threshold=0.3)
        assert got.symbols == [["w1", "w2", "w3"], ["w4", None, None], ["w5", "w5", None]]

    def test_order_matters(self):
        vocab = Vocabulary(512, WORDS)
        ab = hrr.encode_sequence(["w1", "w2"], vocab)
        ba = hrr.encode_sequence(["w2", "w1"], vocab)
        assert float(hrr.similarity(ab, ba)) < 0.3

    def test_explain_away_beats_plain_past_capacity(self):
        vocab = Vocabulary(1024, [f"t{i}" for i in range(1000)])
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(1000, (60, 48), generator=g)
        position = hrr.position_vector(1024)
        v = hrr.sequence.encode_ids(ids, vocab.vectors, position)
        plain = hrr.decode_sequence(v, 48, vocab, explain_away=False).indices[..., 0]
        iterative = hrr.decode_sequence(v, 48, vocab).indices[..., 0]
        plain_acc = float((plain == ids).float().mean())
        iterative_acc = float((iterative == ids).float().mean())
        assert plain_acc < 0.95 and iterative_acc > 0.995

    def test_errors(self):
        vocab = Vocabulary(64, WORDS)
        with pytest.raises(HRRError, match="empty sequence"):
            hrr.encode_sequence([], vocab)
        with pytest.raises(HRRError, match="not the string"):
            hrr.encode_sequence("w1 w2", vocab)
        with pytest.raises(HRRError, match="unknown symbol 'nope'"):
            hrr.encode_sequence(["w1", "nope"], vocab)
        with pytest.raises(HRRError, match="length"):
            hrr.decode_sequence(torch.zeros(64), 0, vocab)


class TestRecord:
    @given(
        record=st.dictionaries(
            st.sampled_from([f"r{i}" for i in range(12)]), st.sampled_from(WORDS), max_size=10
        ).filter(bool)
    )
    def test_round_trip_within_capacity(self, record):
        roles = Vocabulary(1024, [f"r{i}" for i in range(12)], unitary=True, seed=1)
        fillers = Vocabulary(1024, WORDS)
        v = hrr.encode_record(record, roles, fillers)
        assert hrr.decode_record(v, roles, fillers) == record

    def test_absent_roles_are_left_out(self):
        roles = Vocabulary(512, ["agent", "object", "place"], unitary=True)
        fillers = Vocabulary(512, WORDS)
        v = hrr.encode_record({"object": "w3"}, roles, fillers)
        assert hrr.decode_record(v, roles, fillers) == {"object": "w3"}

    def test_errors(self):
        roles, fillers = Vocabulary(64, ["a"], unitary=True), Vocabulary(64, WORDS)
        with pytest.raises(HRRError, match="empty"):
            hrr.encode_record({}, roles, fillers)
        with pytest.raises(HRRError, match="unknown symbol 'b'"):
            hrr.encode_record({"b": "w1"}, roles, fillers)


def trees(max_leaves: int = 12):
    labels = st.sampled_from([f"n{i}" for i in range(20)])
    return st.recursive(
        labels.map(Tree),
        lambda kids: st.tuples(labels, st.lists(kids, min_size=1, max_size=2)).map(
            lambda x: Tree(x[0], tuple(x[1]))
        ),
        max_leaves=max_leaves,
    )


class TestTree:
    @given(tree=trees())
    def test_round_trip_within_capacity(self, tree):
        labels = Vocabulary(1024, [f"n{i}" for i in range(20)])
        codec = TreeCodec(1024, max_arity=2)
        assert codec.decode(codec.encode(tree, labels), labels) == tree

    def test_child_order_is_kept(self):
        labels = Vocabulary(512, ["a", "b", "c"])
        codec = TreeCodec(512)
        left = Tree.from_nested(("a", [("b", ["c"]), "c"]))
        right = Tree.from_nested(("a", ["c", ("b", ["c"])]))
        assert codec.decode(codec.encode(left, labels), labels) == left
        assert codec.decode(codec.encode(right, labels), labels) == right

    def test_subtree_vectors_compose(self):
        labels = Vocabulary(512, ["a", "b", "c"])
        codec = TreeCodec(512)
        sub = Tree.from_nested(("b", ["c"]))
        whole = Tree("a", (sub,))
        expected = labels["a"] + codec._down(codec.encode(sub, labels), 0)
        assert torch.allclose(codec.encode(whole, labels), expected, atol=1e-6)

    def test_noise_decodes_to_nothing(self):
        labels = Vocabulary(1024, ["a", "b"])
        assert TreeCodec(1024).decode(hrr.random(1, 1024, seed=0)[0], labels) is None

    def test_arity_error(self):
        codec, labels = TreeCodec(64, max_arity=1), Vocabulary(64, ["a"])
        with pytest.raises(HRRError, match="max_arity is 1"):
            codec.encode(Tree.from_nested(("a", ["a", "a"])), labels)
