"""Maps of the footprints: their options (options), what a map shows
(prepare, colours, userdata, alttext), static maps (static), interactive maps
(html), hex cartograms (hexlayout, hexes), and the standard set kept as
recipes (recipes)."""
