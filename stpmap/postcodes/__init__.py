"""Which footprint covers a postcode: parsing (parse), the cached placement of
every postcode (index), the lookups (lookup) and what they answer (results)."""
