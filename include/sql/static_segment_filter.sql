-- Filter on contacts for a static segment (criteria IS NULL): its rows in segment_members.
-- {{ segment_id }} is an integer segment id.
contact_id IN (SELECT contact_id FROM segment_members WHERE segment_id = {{ segment_id }})
