"""Grid-puzzle data (Sudoku, Maze, ARC): builders to the TRM/HRM on-disk layout, and evaluators."""
