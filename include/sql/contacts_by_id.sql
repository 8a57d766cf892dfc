-- Current identifiers of remembered members of a deleted static segment.
SELECT contact_id, email, phone, phone_country, mobile_ad_id
FROM contacts
WHERE contact_id IN :contact_ids
