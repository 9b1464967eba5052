"""Similarity memory over HRR vectors: stores keys with payloads, top-k search proposes hypotheses.

Built on `hrr`; see DESIGN.md §3. The store and its backends land with the zero-shot reasoner.
"""
