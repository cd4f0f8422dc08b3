"""Maps of the footprints: their options (options), what a map shows
(prepare, colours, userdata), static maps (static) and interactive maps
(html), and the standard set kept as recipes (recipes)."""
