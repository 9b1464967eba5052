"""Neural reasoners: the sequence refiner (TRM recursion), and TRM/HRM for grid puzzles.

Depends on torch only; see DESIGN.md §5–6. The models land with the hybrid and grid issues.
"""
