-- The segments an audience references.
-- :segment_ids expands to the audience's include and exclude segment ids.
-- A segment with a non-NULL deleted_at is treated as deleted ("Deleted Segment").
SELECT segment_id, name, criteria, deleted_at
FROM segments
WHERE segment_id IN :segment_ids
