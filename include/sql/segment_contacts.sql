-- Contacts in any of the given segments, identifiers raw as entered (they are normalized and
-- hashed in the task process; raw values are never written anywhere).
-- {{ segment_filter }} is the OR of one filter per segment: a segment's criteria in parentheses,
-- or static_segment_filter.sql for a static segment.
SELECT contact_id, email, phone, phone_country, mobile_ad_id
FROM contacts
WHERE {{ segment_filter }}
