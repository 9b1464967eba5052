"""HRR: Holographic Reduced Representations on torch tensors (last dimension = d).

>>> import hrr
>>> a, b = hrr.random_unitary(2, 512, seed=0)
>>> round(float(hrr.similarity(hrr.unbind(hrr.bind(a, b), b), a)), 4)
1.0
"""

from hrr.algebra import (
    bind,
    bundle,
    exact_inverse,
    from_spectrum,
    identity,
    inverse,
    is_unitary,
    multibind,
    normalize,
    permute,
    power,
    random,
    random_unitary,
    similarity,
    similarity_matrix,
    spectrum,
    superpose,
    unbind,
    unitary,
)
from hrr.capacity import (
    Bundle,
    abstain_threshold,
    capacity,
    plate_dim,
    prob_correct,
    required_dim,
)
from hrr.errors import CapacityWarning, HRRError
from hrr.expression import Expression, parse
from hrr.record import decode_record, encode_record
from hrr.sequence import decode_sequence, encode_sequence, position_vector, positions
from hrr.tree import Tree, TreeCodec
from hrr.vocabulary import Cleanup, Vocabulary, named_vector

ItemMemory = Vocabulary  # the literature's other name for it

__all__ = [
    "Bundle",
    "CapacityWarning",
    "Cleanup",
    "Expression",
    # errors
    "HRRError",
    "ItemMemory",
    "Tree",
    "TreeCodec",
    "Vocabulary",
    "abstain_threshold",
    # operations
    "bind",
    "bundle",
    "capacity",
    "decode_record",
    "decode_sequence",
    "encode_record",
    # structures
    "encode_sequence",
    "exact_inverse",
    "from_spectrum",
    "identity",
    "inverse",
    "is_unitary",
    "multibind",
    "named_vector",
    "normalize",
    "parse",
    "permute",
    "plate_dim",
    "position_vector",
    "positions",
    "power",
    # capacity
    "prob_correct",
    # creation
    "random",
    "random_unitary",
    "required_dim",
    # similarity and cleanup
    "similarity",
    "similarity_matrix",
    "spectrum",
    "superpose",
    "unbind",
    "unitary",
]
