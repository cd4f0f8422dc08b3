"""Files in and out: one reader and one writer per format (read, write), the
lookup of a file's postcodes (kernel, lookup_file, lookup_folder) and the
footprint tables the CLI exports (export)."""
