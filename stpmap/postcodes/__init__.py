"""Which footprint covers a postcode: parsing (parse), the cached placement of
every postcode (index), the lookups (lookup), the loops compiled for millions of
postcodes at once (compiled) and what the lookups answer (results)."""
