"""HRR: Holographic Reduced Representations on torch tensors (last dimension = d).

>>> import hrr
>>> a, b = hrr.random_unitary(2, 512, seed=0)
>>> round(float(hrr.similarity(hrr.unbind(hrr.bind(a, b), b), a)), 4)
1.0
"""

from hrr.algebra import (
    bind,
    bind_spectrum,
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
    random_permutation,
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
    # creation
    "random",
    "random_unitary",
    "random_permutation",
    "identity",
    "named_vector",
    # operations
    "bind",
    "bind_spectrum",
    "unbind",
    "multibind",
    "inverse",
    "exact_inverse",
    "unitary",
    "is_unitary",
    "power",
    "superpose",
    "bundle",
    "permute",
    "normalize",
    "spectrum",
    "from_spectrum",
    # similarity and cleanup
    "similarity",
    "similarity_matrix",
    "Vocabulary",
    "ItemMemory",
    "Cleanup",
    # capacity
    "prob_correct",
    "capacity",
    "required_dim",
    "plate_dim",
    "abstain_threshold",
    "Bundle",
    # structures
    "encode_sequence",
    "decode_sequence",
    "position_vector",
    "positions",
    "encode_record",
    "decode_record",
    "Tree",
    "TreeCodec",
    "Expression",
    "parse",
    # errors
    "HRRError",
    "CapacityWarning",
]
