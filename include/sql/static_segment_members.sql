-- Members of static segments, remembered after each good run so that an audience keeps its last
-- members if the segment is deleted.
SELECT segment_id, contact_id
FROM segment_members
WHERE segment_id IN :segment_ids
