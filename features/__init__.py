"""Study area, grid, cube and the features models read from it."""
